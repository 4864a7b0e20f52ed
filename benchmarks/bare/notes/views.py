"""The Django ceiling for a post: plain sync views (a thread and a connection per request
under ASGI) that parse JSON, or save an uploaded file to the default storage, and insert
one row atomically; no CSRF token from an API."""

from __future__ import annotations

import json

from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
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


@csrf_exempt
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    """A multipart post's ``files`` part saved as Django's own upload handlers leave it (a
    temporary file over 2.5 MB), and a row naming it: what a naive upload endpoint does."""
    file = request.FILES.get("files")
    if file is None:
        return JsonResponse({"error": "expected a files part"}, status=400)
    name = default_storage.save(f"uploads/{file.name}", file)
    with transaction.atomic():
        note = Note.objects.create(text=f"{request.POST.get('text', '')} {name}")
    return JsonResponse({"id": note.pk, "file": name, "size": file.size}, status=201)


urlpatterns = [path("notes/", create_note), path("upload/", upload)]
