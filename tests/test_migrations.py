"""Migrations: none missing, and they work whatever the Telegram user app is called."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader


@pytest.mark.django_db
def test_no_migration_is_missing():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_support_depends_on_the_configured_user_app_even_when_it_sorts_later():
    # The test user app's label ("zz_users") sorts after "support": the
    # original package's migration broke in exactly this order.
    assert "zz_users" > "support"
    loader = MigrationLoader(connection)
    plan = list(loader.graph.forwards_plan(("support", "0001_initial")))
    assert ("zz_users", "0001_initial") in plan
    assert plan.index(("zz_users", "0001_initial")) < plan.index(("support", "0001_initial"))


@pytest.mark.django_db
def test_ticket_user_points_at_the_configured_model():
    from support.models import Ticket
    from tests.zz_users.models import MyTelegramUser

    assert Ticket._meta.get_field("user").related_model is MyTelegramUser
