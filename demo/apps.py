from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo landscape builder: above every other app, it reads and writes them all."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "demo"
