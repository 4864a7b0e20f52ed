"""The bare project's one app: a ``Note`` model, its post view and the fan-out consumer."""
