import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account if there is none, and say how to sign in."

    def handle(self, *args: Any, **options: Any) -> None:
        import os

        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        remembered = settings.DATA_DIR / "admin-password.txt"
        if User.objects.filter(is_superuser=True).exists():
            if remembered.exists() and not password:
                self.stdout.write(
                    f"Sign in as {username} with the password in {remembered.relative_to(settings.BASE_DIR) if remembered.is_relative_to(settings.BASE_DIR) else remembered}."
                )
            else:
                self.stdout.write("Sign in with your admin account.")
            return
        if not password:
            password = secrets.token_urlsafe(12)
            settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
            remembered.write_text(password + "\n")
            remembered.chmod(0o600)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(f"Created the admin account: username {username!r}, password {password!r}")
        )
