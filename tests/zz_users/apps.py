from django.apps import AppConfig


class ZzUsersConfig(AppConfig):
    """A Telegram user app whose label sorts after ``support``.

    The 1.x package's migration broke when the user app's migrations
    ran after its own; tests run with this ordering on purpose.
    """

    name = "tests.zz_users"
    label = "zz_users"
    default_auto_field = "django.db.models.BigAutoField"
