from typing import TypedDict, Unpack

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatapp.api.actions import create_token


class Options(TypedDict):
    """The options this command reads."""

    username: str
    name: str


class Command(BaseCommand):
    help = "Create an API token for a user and print it (only a hash is stored: it is shown this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for, shown in the admin.")

    def handle(self, *args: str, **options: Unpack[Options]) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        if not user.is_active:
            raise CommandError(f"The user {user.username!r} is inactive; its tokens would not work.")
        token, secret = create_token(user, options["name"])
        # The token alone on stdout, so that scripts can capture it.
        self.stdout.write(secret)
        self.stderr.write(f"Token {token} created for {user.username}; copy it now, it will not be shown again.")
