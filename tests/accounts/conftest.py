"""A real OpenID Connect provider (Node's `oidc-provider`) and the app configured to use it."""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

import httpx
import pytest

from tests.support.processes import ROOT, free_port, serve_app, stop_process, wait_for_http

PROVIDER_SCRIPT = ROOT / "tests" / "accounts" / "oidc_provider.mjs"
CLIENT_ID = "chatapp"
CLIENT_SECRET = "chatapp-test-secret"

USERS = {
    "carol": {
        "password": "carol-password",
        "email": "carol@example.com",
        "name": "Carol Reviewer",
        "groups": ["chat-reviewers", "engineering"],
    },
    "dave": {"password": "dave-password", "email": "dave@example.com", "name": "Dave Admin", "groups": ["it-admins"]},
    "erin": {
        "password": "erin-password",
        "email": "erin@elsewhere.test",
        "name": "Erin Outsider",
        "groups": ["engineering"],
    },
    "mallory": {
        "password": "mallory-password",
        "email": "mallory@example.com",
        "email_verified": False,
        "name": "Mallory Unverified",
        "groups": [],
    },
}

GROUP_MAP = "chat-reviewers=Reviewer,engineering=Engineering,it-admins=staff"


@dataclass
class TestProvider:
    issuer: str
    app_port: int

    def change_user(self, user_id: str, **changes) -> None:
        httpx.post(f"{self.issuer}/control/users/{user_id}", json=changes, timeout=5).raise_for_status()

    def reset(self) -> None:
        for user_id, fields in USERS.items():
            self.change_user(user_id, disabled=False, **fields)


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory):
    if shutil.which("node") is None or not (ROOT / "node_modules" / "oidc-provider").exists():
        pytest.fail("The OpenID Connect tests need Node and `npm ci` (make test runs it).")
    port, app_port = free_port(), free_port()
    app = f"http://127.0.0.1:{app_port}"
    config = {
        "port": port,
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{app}/accounts/oidc/callback/"],
                "post_logout_redirect_uris": [f"{app}/accounts/signed-out/"],
            }
        ],
        "users": USERS,
    }
    path = tmp_path_factory.mktemp("oidc") / "provider.json"
    path.write_text(json.dumps(config))
    process = subprocess.Popen(
        ["node", str(PROVIDER_SCRIPT)], cwd=ROOT, env={**os.environ, "OIDC_TEST_PROVIDER_CONFIG": str(path)}
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{issuer}/.well-known/openid-configuration", process, timeout=30)
        yield TestProvider(issuer=issuer, app_port=app_port)
    finally:
        stop_process(process)


def provider_settings(provider: TestProvider) -> dict:
    return {
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_SCOPES": "openid,email,profile,groups",
        "OIDC_GROUP_MAP": GROUP_MAP,
        "OIDC_ALLOWED_EMAIL_DOMAINS": "example.com",
        "OIDC_PROVIDER_NAME": "Test Provider",
        "OIDC_RECHECK_SECONDS": "1",
        "LOCAL_LOGIN": "false",
    }


@pytest.fixture(scope="module")
def sso_app(oidc_provider, django_db_setup):
    with serve_app(port=oidc_provider.app_port, **provider_settings(oidc_provider)) as url:
        yield url


@pytest.fixture
def provider(oidc_provider, transactional_db):
    oidc_provider.reset()
    return oidc_provider
