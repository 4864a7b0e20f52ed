"""The API's resources, each one class for both clients (see :mod:`support_client._resource`)."""
