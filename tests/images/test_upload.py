"""Uploading through POST /images/, as the composer does: what is accepted, what is refused and why."""

import io
import os

import pytest
from django.test import Client
from PIL import ExifTags, Image

from chatapp.images.models import Attachment, StoredImage
from tests.support.pictures import picture, stored_files, upload

pytestmark = pytest.mark.django_db


def decompression_bomb():
    """20000×20000 pixels in a PNG of a few kilobytes."""
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, "PNG")
    return buffer.getvalue()


def thousand_frame_gif():
    # Alternating colours: Pillow merges identical neighbouring frames.
    frames = [Image.new("RGB", (8, 8), (255 * (index % 2), 0, 0)) for index in range(1000)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0)
    return buffer.getvalue()


def truncated_jpeg():
    data = picture("JPEG", size=(640, 480), quality=90)
    return data[: len(data) // 2]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
NOT_AN_IMAGE = "This chat accepts JPEG, PNG, WebP and GIF pictures"

BAD_FILES = {
    "a text file renamed .png": (b"just some notes\n", "notes.png", "image/png", 400, "not an image this chat accepts"),
    "an SVG with a script": (SVG, "drawing.svg", "image/svg+xml", 400, "not an image this chat accepts"),
    "an HTML file": (HTML, "page.html", "text/html", 400, "not an image this chat accepts"),
    "an HTML file named .jpg": (HTML, "photo.jpg", "image/jpeg", 400, "not an image this chat accepts"),
    "a PDF": (b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "scan.pdf", "application/pdf", 400, "not an image"),
    "a decompression bomb": (decompression_bomb(), "bomb.png", "image/png", 400, "too many pixels"),
    "a truncated JPEG": (truncated_jpeg(), "photo.jpg", "image/jpeg", 400, "damaged or incomplete"),
    "a zero-byte file": (b"", "empty.png", "image/png", 400, "The file is empty."),
    "a GIF of 1000 frames": (thousand_frame_gif(), "long.gif", "image/gif", 400, "too many frames"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_refused_file_gets_its_specific_reason_and_nothing_is_stored(case, alice_client, media_root):
    data, name, content_type, status, reason = BAD_FILES[case]
    response = upload(alice_client, data, name, content_type)
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert not Attachment.objects.exists()
    assert not StoredImage.objects.exists()
    assert stored_files(media_root) == []


def test_a_30_megabyte_file_is_refused_as_too_large_before_it_is_read(alice_client, media_root):
    response = upload(alice_client, os.urandom(30 * 1024 * 1024), "huge.jpg", "image/jpeg")
    assert response.status_code == 413
    assert " ".join(response.json()["error"].split()) == "The file is too large (30.0 MB); the limit is 10.0 MB."
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


def test_a_file_just_over_the_limit_is_refused_as_too_large(alice_client, settings):
    settings.MAX_IMAGE_BYTES = 1000
    response = upload(alice_client, picture("PNG", size=(200, 200), color=(1, 2, 3)) + b"\0" * 1000)
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


def test_a_png_is_stored_with_a_thumbnail_and_described(alice_client, alice, media_root):
    response = upload(alice_client, picture("PNG", size=(300, 200)), "diagram.png")
    assert response.status_code == 201
    image = response.json()["image"]
    attachment = Attachment.objects.get()
    assert image == {
        "id": attachment.pk,
        "url": f"/images/{attachment.pk}/",
        "thumbnail_url": f"/images/{attachment.pk}/thumbnail/",
        "width": 300,
        "height": 200,
        "thumbnail_width": 300,
        "thumbnail_height": 200,
        "format": "PNG",
        "name": "diagram.png",
    }
    assert attachment.owner == alice
    assert attachment.message is None
    files = stored_files(media_root)
    assert len(files) == 2  # the image and its thumbnail, nothing in the database
    assert {Image.open(path).format for path in files} == {"PNG", "WEBP"}


def test_a_large_photo_is_scaled_to_the_models_limit(alice_client, settings):
    response = upload(alice_client, picture("JPEG", size=(4000, 3000), quality=80), "photo.jpg", "image/jpeg")
    image = response.json()["image"]
    assert (image["width"], image["height"]) == (1540, 1155)
    assert image["format"] == "JPEG"
    assert max(image["thumbnail_width"], image["thumbnail_height"]) == settings.IMAGE_THUMBNAIL_SIDE


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_every_accepted_format_is_taken(fmt, alice_client):
    response = upload(alice_client, picture(fmt), f"picture.{fmt.lower()}", "application/octet-stream")
    assert response.status_code == 201, response.content


def test_an_animated_gif_keeps_its_first_frame(alice_client, media_root):
    frames = [Image.new("RGB", (20, 20), color) for color in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    response = upload(alice_client, buffer.getvalue(), "blink.gif", "image/gif")
    assert response.status_code == 201
    stored = Image.open(Attachment.objects.get().image.file.path)
    assert stored.format == "PNG"
    assert getattr(stored, "n_frames", 1) == 1
    red, green, blue = stored.convert("RGB").getpixel((10, 10))
    assert red > 200 and green < 50 and blue < 50


def test_a_gif_that_is_really_a_png_is_stored_as_a_png(alice_client):
    response = upload(alice_client, picture("PNG"), "animation.gif", "image/gif")
    assert response.status_code == 201
    attachment = Attachment.objects.get()
    assert response.json()["image"]["format"] == "PNG"
    assert attachment.image.source_format == "PNG"
    assert attachment.image.file.name.endswith(".png")
    served = alice_client.get(attachment.url)
    assert served["Content-Type"] == "image/png"
    assert 'filename="animation.png"' in served["Content-Disposition"]


def test_a_name_with_path_traversal_and_html_is_made_harmless(alice_client, media_root):
    response = upload(alice_client, picture("PNG"), "../../<script>.png")
    assert response.status_code == 201
    assert response.json()["image"]["name"] == "script.png"
    assert Attachment.objects.get().name == "script.png"
    files = stored_files(media_root)
    assert files and all(path.is_relative_to(media_root / "images") for path in files)
    assert not any("script" in path.name for path in files)


def photo_with_gps():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.Orientation] = 6  # shot holding the phone upright
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), (10, 120, 200)).save(buffer, "JPEG", exif=exif, quality=90)
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def test_gps_and_all_other_exif_are_stripped_and_the_orientation_applied(alice_client, media_root):
    response = upload(alice_client, photo_with_gps(), "holiday.jpg", "image/jpeg")
    assert response.status_code == 201
    assert (response.json()["image"]["width"], response.json()["image"]["height"]) == (40, 60)
    for path in stored_files(media_root):
        stored = Image.open(path)
        assert not stored.getexif(), path.name
        assert "exif" not in stored.info and "icc_profile" not in stored.info
        assert b"PhoneCo" not in path.read_bytes()


def test_bytes_hidden_after_the_image_are_not_kept(alice_client, media_root):
    polyglot = picture("PNG") + HTML
    response = upload(alice_client, polyglot, "innocent.png")
    assert response.status_code == 201
    assert not any(b"<script>" in path.read_bytes() for path in stored_files(media_root))


def test_the_field_must_hold_one_file(alice_client):
    assert alice_client.post("/images/", {}).json() == {"error": "Choose an image file to upload."}


def test_an_upload_without_the_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert upload(client, picture()).status_code == 403
    assert not Attachment.objects.exists()


def test_signed_out_uploads_are_sent_to_sign_in(client):
    response = upload(client, picture())
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
