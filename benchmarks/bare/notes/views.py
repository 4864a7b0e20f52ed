"""The Django ceiling for a post: parse JSON, insert one row atomically, answer 201.

A plain synchronous function view, as a tutorial would write it: under
ASGI, Django runs it in a thread with that thread's own database
connection, which is exactly the per-request overhead the support app's
post is compared against. ``csrf_exempt`` because an API client sends no
CSRF token; the rest of ``startproject``'s middleware runs.
"""

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
