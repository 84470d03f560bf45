import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

# The chat tests' websocket client (connects as a signed-in user, closes after).
from tests.chat.conftest import socket_for  # noqa: F401


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded files go to a folder of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root):
    return sorted(path for path in media_root.rglob("*") if path.is_file()) if media_root.exists() else []


def picture(fmt="PNG", size=(64, 48), color=(200, 40, 40), **options):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt, **options)
    return buffer.getvalue()


def upload(client, data, name="picture.png", content_type="image/png"):
    """What the browser's attach does: a multipart POST of one file."""
    return client.post("/images/", {"image": SimpleUploadedFile(name, data, content_type=content_type)})


def uploaded_id(client, data=None, name="picture.png"):
    response = upload(client, data if data is not None else picture(), name)
    assert response.status_code == 201, response.content
    return response.json()["image"]["id"]
