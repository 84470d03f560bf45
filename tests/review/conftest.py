"""Actors and the app for the review tests."""

import pytest

from tests.support.accounts import signed_in
from tests.support.processes import serve_app


@pytest.fixture
def reviewer_client(reviewer):
    return signed_in(reviewer)


@pytest.fixture
def root_client(admin):
    return signed_in(admin)


@pytest.fixture
def review_app(transactional_db, media_root):
    """daphne serving the app on the test database; no worker or model, as review needs neither."""
    with serve_app(MEDIA_ROOT=str(media_root)) as url:
        yield url
