"""Template context for the demo: the note that its landscape is still being built."""

from django.http import HttpRequest

from demo.status import demo_being_built


def demo_status(request: HttpRequest) -> dict:
    return {"demo_building": demo_being_built()}
