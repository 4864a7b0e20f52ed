"""The row the bare post inserts."""

from django.db import models


class Note(models.Model):
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.text[:40]
