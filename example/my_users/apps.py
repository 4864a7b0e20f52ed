from django.apps import AppConfig


class MyUsersConfig(AppConfig):
    name = "my_users"
    default_auto_field = "django.db.models.BigAutoField"
