"""The manager console's page: who may open it, what it hands the script, its languages.

What the page does in a browser is tested in ``tests/browser/``.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings

URL = "/support/manager/"


def config_of(response) -> dict[str, Any]:
    match = re.search(
        r'<script id="support-console-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "no configuration in the page"
    config: dict[str, Any] = json.loads(match.group(1))
    return config


def test_anonymous_is_sent_to_login_and_back(client: Client, db):
    response = client.get(URL + "?x=1")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/support/manager/%3Fx%3D1"


@pytest.mark.parametrize(
    ("login_url", "location"),
    [
        # Django's default, with no page there (tests/urls.py): the admin's, as 1.2.0 did.
        ("/accounts/login/", "/admin/login/?next=/support/manager/"),
        ("/sso/", "/sso/?next=/support/manager/"),  # one the project chose: as it is
        (
            "https://id.example.org/",
            "https://id.example.org/?next=/support/manager/",
        ),
    ],
)
def test_the_login_page_is_the_projects_or_else_the_admins(login_url, location, client: Client, db):
    with override_settings(LOGIN_URL=login_url):
        response = client.get("/support/manager/")
    assert response.status_code == 302
    assert response["Location"] == location


def test_a_non_manager_gets_a_plain_403(client: Client, plain_user):
    client.force_login(plain_user)
    response = client.get(URL)
    assert response.status_code == 403
    assert b"support-console-config" not in response.content


def test_an_inactive_manager_is_refused(client: Client, manager):
    client.force_login(manager)
    manager.is_active = False
    manager.save()
    assert client.get(URL).status_code == 302  # the session no longer holds a user


def test_a_manager_gets_the_page_with_its_configuration(client: Client, manager, settings):
    settings.SUPPORT_MAX_TEXT_LENGTH = 1000
    client.force_login(manager)
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert "csrftoken" in response.cookies  # the script sends it on every write
    config = config_of(response)
    assert config["api"] == "/support/"
    assert config["websocket"] == "/ws/support/"
    assert config["maxTextLength"] == 1000
    assert config["me"] == {"id": manager.pk, "name": "Alice Smith"}
    assert config["strings"]["live"] == "Live"
    assert config["edit_window_seconds"] == 15 * 60  # SUPPORT_EDIT_WINDOW's default


def test_a_superuser_is_a_manager(client: Client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw")
    client.force_login(admin)
    assert client.get(URL).status_code == 200


def test_the_page_loads_only_its_own_static_files(client: Client, manager):
    client.force_login(manager)
    page = client.get(URL).content.decode()
    sources = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert sources, "no scripts or styles"
    for source in sources:
        assert source.startswith(("/static/support/console/", "/support/", "data:")), source
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), f"missing {source}"


def test_russian_follows_the_browser(client: Client, manager):
    client.force_login(manager)
    response = client.get(URL, headers={"accept-language": "ru"})
    page = response.content.decode()
    assert '<html lang="ru">' in page
    assert "Консоль поддержки" in page
    assert "Без менеджера" in page
    strings = config_of(response)["strings"]
    assert strings["live"] == "На связи"
    assert strings["chars_left"] == "%(used)s / %(limit)s символов"


def test_every_string_has_a_russian_translation(client: Client, manager):
    client.force_login(manager)
    english = config_of(client.get(URL))["strings"]
    russian = config_of(client.get(URL, headers={"accept-language": "ru"}))["strings"]
    protocol_names = {"websocket", "sse", "longpoll"}  # the same in both languages
    same = {key for key in english if english[key] == russian[key]} - protocol_names
    assert same == set()


def test_the_protocol_comes_from_the_server(client: Client, manager):
    """Event types, close codes and sender names are the server's, not copied into the script."""
    from support import events
    from support.models import Side
    from support.realtime import consumer

    client.force_login(manager)
    protocol = config_of(client.get(URL))["protocol"]
    for event_type in events.EVENT_TYPES:
        assert protocol["events"][event_type.replace(".", "_")] == event_type
        assert event_type in protocol["events_all"]
    assert protocol["events"]["ticket_updated"] == "ticket.updated"
    assert not [t for t in protocol["events_all"] if t.startswith("support.")]  # channel layer's
    assert protocol["reset"] == "stream.reset"
    assert protocol["close"]["bad_cursor"] == consumer.CLOSE_BAD_CURSOR
    assert protocol["close"]["revoked"] == consumer.CLOSE_REVOKED
    assert protocol["senders"] == {"user": Side.USER.value, "support": Side.SUPPORT.value}


def test_the_page_knows_which_optional_endpoints_the_server_has(client: Client, manager):
    client.force_login(manager)
    features = config_of(client.get(URL))["features"]
    assert features == {
        "notes": True,
        "savedReplies": True,
        "users": True,
        "editMessages": True,
        "editHistory": True,
        "stats": True,
    }


def test_the_page_is_a_set_of_es_modules(client: Client, manager):
    client.force_login(manager)
    page = client.get(URL).content.decode()
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"[^>]*>", page)
    assert scripts == ["/static/support/console/console.js"]
    assert 'type="module"' in page
    entry = finders.find("support/console/console.js")
    assert entry
    # Every module the entry imports, and theirs, is one of the app's own files.
    seen: set[str] = set()
    todo = ["console.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found = finders.find(f"support/console/{name}")
        assert found, f"missing module {name}"
        with open(found, encoding="utf-8") as source:
            text = source.read()
        todo += re.findall(r'^import [^;]*?"\./([\w.]+)";', text, re.M | re.S)
        assert "window.supportConsole.state" not in text
    assert {"store.js", "views.js", "api.js", "connection.js", "config.js"} <= seen


@pytest.mark.parametrize(
    ("window", "seconds"),
    [
        (timedelta(minutes=5), 300),
        (timedelta(seconds=90), 90),
        (timedelta(hours=72), 48 * 3600),  # read capped at Telegram's 48 hours
    ],
)
def test_the_edit_window_comes_from_the_setting(client: Client, manager, window, seconds):
    client.force_login(manager)
    with override_settings(SUPPORT_EDIT_WINDOW=window):
        config = config_of(client.get(URL))
    assert config["edit_window_seconds"] == seconds


def test_the_page_has_the_stats_view_and_the_block_form(client: Client, manager):
    client.force_login(manager)
    page = client.get(URL, headers={"accept-language": "ru"}).content.decode()
    assert 'id="stats"' in page
    assert 'href="#stats"' in page
    assert 'id="block-form"' in page
    assert "Статистика" in page
    assert "Медиана первого ответа" in page


#: Issue 23's endpoints, which a server may lack (a project that mounts its own list).
LIFE_ENDPOINTS = {"user-detail", "user-block", "user-unblock", "message-detail", "message-edits"}


def _urls_without_issue_23() -> list[Any]:
    from django.urls import include, path, re_path

    from support import console
    from support.api.urls import urlpatterns as api_urlpatterns
    from support.api.views import not_found

    kept = [p for p in api_urlpatterns if p.name not in LIFE_ENDPOINTS | {"stats"}]
    support = [
        path("manager/", console.manager_console, name="manager-console"),
        *kept,
        re_path(r"^[\s\S]*$", not_found, name="not-found"),
    ]
    return [path("support/", include((support, "support")))]


#: ROOT_URLCONF for the test below: this module, with a server lacking issue 23's endpoints.
urlpatterns = _urls_without_issue_23()


def test_the_page_hides_what_an_older_server_lacks(client: Client, manager):
    """Block, Edit, the history and Stats are offered only where the server has them."""
    client.force_login(manager)
    with override_settings(ROOT_URLCONF=__name__):
        features = config_of(client.get(URL))["features"]
    assert features["notes"] is True
    assert {name: features[name] for name in ("users", "editMessages", "editHistory", "stats")} == {
        "users": False,
        "editMessages": False,
        "editHistory": False,
        "stats": False,
    }
