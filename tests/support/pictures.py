"""Pictures made on the spot, and uploaded as the browser's attach does."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def picture(fmt="PNG", size=(64, 48), color=(200, 40, 40), **options):
    """The bytes of a plain picture."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt, **options)
    return buffer.getvalue()


def stored_files(media_root):
    return sorted(path for path in media_root.rglob("*") if path.is_file()) if media_root.exists() else []


def upload(client, data, name="picture.png", content_type="image/png"):
    """What the browser's attach does: a multipart POST of one file."""
    return client.post("/images/", {"image": SimpleUploadedFile(name, data, content_type=content_type)})


def uploaded_id(client, data=None, name="picture.png"):
    response = upload(client, data if data is not None else picture(), name)
    assert response.status_code == 201, response.content
    return response.json()["image"]["id"]


def attach_image(message, color="red"):
    """A picture of `color` uploaded by the conversation's owner and attached to `message`."""
    from chatapp.images.actions import upload_image
    from chatapp.images.models import Attachment

    attachment = upload_image(message.conversation.owner, picture(color=color), f"{color}.png")
    Attachment.objects.filter(pk=attachment.pk).update(message=message)
    attachment.refresh_from_db()
    return attachment
