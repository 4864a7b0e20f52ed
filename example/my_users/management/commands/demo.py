"""``manage.py demo``: migrate, fill in demo data, print credentials, serve on 127.0.0.1:8000.

Safe to run again: the manager and tickets are reused, and a fresh bot key
replaces the previous demo key (keys are stored hashed, so an old one can't
be shown again).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from rest_framework.authtoken.models import Token

from support import ratings, services
from support.actors import Actor
from support.botkeys import create_bot_key
from support.models import BotKey, Ticket

DEMO_USERNAME = "manager"
DEMO_PASSWORD = "manager"
DEMO_BOT = "demo-bot"
NEW_TICKET = '{"user_id": 42, "title": "Hello", "text": "Hi!"}'

CONVERSATIONS = [
    (1001, "Payment did not go through", ["I paid twice and the order is still pending."]),
    (1002, "Bot does not answer /start", ["Nothing happens when I press start.", "Still nothing."]),
    (1003, "How do I change my language?", ["Is there a Russian version?"]),
]
#: The Telegram profiles the bot would send with those users' messages.
PROFILES = {
    1001: {
        "first_name": "Anna",
        "last_name": "Petrova",
        "username": "anna_p",
        "language_code": "ru",
    },
    1002: {"first_name": "Tom", "last_name": "", "username": "tom_b", "language_code": "en"},
    1003: {"first_name": "Lea", "last_name": "Weber", "username": "", "language_code": "de"},
}
#: A conversation already helped: answered, resolved and rated, so the ticket's
#: head and the stats page have something to show.
HELPED = (1002, "Where is my invoice?", "Could you send me the invoice again?")


#: The listen backlog the demo's daphne asks for: uvicorn's default. daphne's own
#: (``-b``/``-p``, and ``runserver``) is Twisted's 50, and more clients than that
#: connecting at once (a reconnect storm, a crowd of streams) are dropped by the
#: kernel before the app sees them (``nstat TcpExtListenOverflows`` counts them).
LISTEN_BACKLOG = 2048


def serve(port: int) -> None:
    """Serve the example with daphne on 127.0.0.1:*port*, with a backlog that fits bursts.

    daphne's command line rather than ``runserver``, which cannot set a
    backlog; the frame limits are the ones the settings give ``runserver``.
    """
    from daphne.cli import CommandLineInterface

    endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog={LISTEN_BACKLOG}"
    CommandLineInterface().run(
        [
            "-e", endpoint,
            "--websocket-max-message-size", str(settings.DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE),
            "--websocket-max-frame-size", str(settings.DAPHNE_WEBSOCKET_MAX_FRAME_SIZE),
            "example.asgi:application",
        ]
    )  # fmt: skip


class Command(BaseCommand):
    help = "Prepare the example project for a demo and serve it with daphne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Set up, print, and exit.")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, no_serve: bool, port: int, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        manager = self._manager()
        token, _created = Token.objects.get_or_create(user=manager)
        for old in BotKey.objects.active().filter(name=DEMO_BOT):
            services.revoke_bot_key(old)
        _key, raw_key = create_bot_key(DEMO_BOT)
        if not Ticket.objects.exists():
            self._conversations(Actor.for_bot(_key), Actor.for_manager(manager))

        base = f"http://127.0.0.1:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "ChatLabs Django Support demo",
                    f"  console:       {base}/support/manager/  "
                    f"(login {DEMO_USERNAME} / {DEMO_PASSWORD})",
                    f"  admin:         {base}/admin/  (login {DEMO_USERNAME} / {DEMO_PASSWORD})",
                    f"  API:           {base}/support/tickets/",
                    f"  OpenAPI:       {base}/support/schema/",
                    f"  manager token: {token.key}",
                    f"  bot key:       {raw_key}",
                    "",
                    "Try:",
                    f"  curl -H 'Authorization: Token {token.key}' {base}/support/tickets/",
                    f"  curl -H 'Authorization: Api-Key {raw_key}' \\",
                    "       -H 'Content-Type: application/json' \\",
                    f"       -d '{NEW_TICKET}' {base}/support/tickets/",
                    "",
                ]
            )
        )
        if not no_serve:
            serve(port)

    def _manager(self) -> User:
        manager, created = User.objects.get_or_create(
            username=DEMO_USERNAME,
            defaults={"first_name": "Demo", "last_name": "Manager", "is_staff": True},
        )
        if created:
            manager.set_password(DEMO_PASSWORD)
            manager.save()
        manager.user_permissions.add(
            Permission.objects.get(content_type__app_label="support", codename="manage_tickets"),
            *Permission.objects.filter(
                content_type__app_label="support",
                codename__in=["view_ticket", "change_ticket", "view_message", "view_botkey"],
            ),
        )
        return manager

    def _conversations(self, bot: Actor, manager: Actor) -> None:
        user_id, title, text = HELPED
        helped = services.open_ticket(
            bot, user_id=user_id, title=title, text=text, profile=PROFILES[user_id]
        )
        services.post_message(manager, helped.pk, text="Sent it to your e-mail just now.")
        services.resolve(manager, helped.pk)
        ratings.rate(bot, helped.pk, score=5, comment="Quick and kind, thank you!")
        for index, (user_id, title, texts) in enumerate(CONVERSATIONS):
            ticket = services.open_ticket(
                bot, user_id=user_id, title=title, text=texts[0], profile=PROFILES[user_id]
            )
            for text in texts[1:]:
                services.post_message(bot, ticket.pk, text=text)
            if index == 0:
                services.post_message(manager, ticket.pk, text="Looking into it now.")
                services.mark_viewed(manager, ticket.pk)
