from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatapp.chat.models import Message
from chatapp.review import actions

LISTED = 20


class Command(BaseCommand):
    help = (
        "Delete conversations (with their messages, feedback and image files) whose last activity "
        "is older than --older-than days. Only prints what it would delete unless --yes is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")
        parser.add_argument("--yes", action="store_true", help="Really delete.")

    def handle(self, *args: object, older_than: int, yes: bool, **options: object) -> None:
        if older_than < 1:
            raise CommandError("--older-than must be at least 1 day.")
        if yes:
            deleted = actions.purge_conversations(older_than)
            self.stdout.write(f"Deleted {deleted} conversation(s) with no activity for {older_than} days.")
            return
        old = actions.conversations_older_than(older_than)
        count = old.count()
        messages = Message.objects.filter(conversation__in=old).count()
        self.stdout.write(
            f"Would delete {count} conversation(s) ({messages} message(s)) with no activity for {older_than} days. "
            "Nothing was deleted: run again with --yes to delete them."
        )
        for conversation in old.select_related("owner").order_by("updated_at")[:LISTED]:
            self.stdout.write(
                f"  #{conversation.pk}  last active {conversation.updated_at:%Y-%m-%d}  "
                f"{conversation.owner.get_username()}  {conversation}"
            )
        if count > LISTED:
            self.stdout.write(f"  … and {count - LISTED} more")
