from django.db import models


class MyTelegramUser(models.Model):
    """The 1.x README's Telegram user model, as a host project writes it."""

    telegram_id = models.BigIntegerField(primary_key=True, unique=True)

    def __str__(self) -> str:
        return f"tg:{self.telegram_id}"
