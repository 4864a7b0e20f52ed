from django.db import models


class MyTelegramUser(models.Model):
    """The 1.x README's model, verbatim."""

    telegram_id = models.BigIntegerField(primary_key=True, unique=True)


class StrictTelegramUser(models.Model):
    """A user model the API cannot create rows of (a required field without default)."""

    telegram_id = models.BigIntegerField(primary_key=True)
    registered_at = models.DateTimeField()
