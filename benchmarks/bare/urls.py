"""One URL: the bare post."""

from django.urls import path

from benchmarks.bare.notes.views import create_note

urlpatterns = [path("notes/", create_note)]
