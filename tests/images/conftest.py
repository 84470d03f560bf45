from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import picture


def stored_files(media_root):
    return sorted(path for path in media_root.rglob("*") if path.is_file()) if media_root.exists() else []


def upload(client, data, name="picture.png", content_type="image/png"):
    """What the browser's attach does: a multipart POST of one file."""
    return client.post("/images/", {"image": SimpleUploadedFile(name, data, content_type=content_type)})


def uploaded_id(client, data=None, name="picture.png"):
    response = upload(client, data if data is not None else picture(), name)
    assert response.status_code == 201, response.content
    return response.json()["image"]["id"]
