"""The API's resources, each with a sync and an async twin."""
