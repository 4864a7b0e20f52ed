"""The Django ceiling for a post: a plain sync view (a thread and a connection per request
under ASGI) that parses JSON and inserts one row atomically; no CSRF token from an API."""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from benchmarks.bare.notes.models import Note


@csrf_exempt
@require_POST
def create_note(request: HttpRequest) -> HttpResponse:
    try:
        text = json.loads(request.body)["text"]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": 'expected {"text": ...}'}, status=400)
    if not isinstance(text, str):
        return JsonResponse({"error": "text must be a string"}, status=400)
    with transaction.atomic():
        note = Note.objects.create(text=text)
    return JsonResponse(
        {"id": note.pk, "text": note.text, "created": note.created.isoformat()}, status=201
    )
