"""The people of the tests: one password for all, cheap hashing, signing in."""

from django.test import Client

PASSWORD = "correct horse battery staple"
# Real password hashing costs a second per user on this hardware; the tests are
# not about it. Test servers get the same list through their environment.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(django_user_model, username, **extra):
    return django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)


def signed_in(user):
    """A test client of its own, signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def sign_in(page, live_app, user):
    """Sign in through the browser's sign-in form."""
    page.goto(f"{live_app}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_app}/")
