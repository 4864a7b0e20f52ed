from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "benchmarks.bare.notes"
    label = "bare_notes"
