"""Create a time-limited API token for a script and print its key once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token (Authorization: Token <key>) for a user; prints the key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=None, help="valid for this many days")
        parser.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args, username: str, days: int | None, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"There is no active user {username}.")
        try:
            token, key = api_token_create(user=user, name=name, days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"Token {token.prefix}… for {username}, valid until {token.expires_at}:")
        self.stdout.write(key)
