"""The bare project's one app: a ``Note`` model and its post views."""
