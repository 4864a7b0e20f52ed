"""The row the bare post inserts."""

from __future__ import annotations

from django.db import models


class Note(models.Model):
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    #: Declared, so the type checker (whose settings do not install this app) knows it.
    objects: models.Manager[Note] = models.Manager()

    def __str__(self) -> str:
        return self.text[:40]
