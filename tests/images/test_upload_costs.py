"""Cheap before expensive: a hostile upload is refused before it costs CPU, and costs no one else.

The CPU figures are printed (never asserted); the tests assert what the user sees.
"""

import io
import threading
import time
from unittest import mock

import pytest
from PIL import Image

from chatapp.images import processing, slots
from tests.support.pictures import picture, upload

pytestmark = pytest.mark.django_db


def many_frame_gif(frames):
    # Alternating colours: Pillow merges identical neighbouring frames.
    images = [Image.new("P", (1, 1), index % 2) for index in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=1, optimize=False, disposal=0)
    return buffer.getvalue()


def test_a_gif_of_100000_frames_is_refused_after_reading_a_hundred(alice_client):
    data = many_frame_gif(100_000)
    started = time.process_time()
    response = upload(alice_client, data, "loop.gif", "image/gif")
    spent = time.process_time() - started
    with Image.open(io.BytesIO(data)) as image:
        walked = time.process_time()
        assert image.n_frames == 100_000
        walked = time.process_time() - walked
    print(
        f"\n{len(data):,}-byte GIF of 100,000 frames: refused after {spent * 1000:.0f} ms CPU "
        f"(counting every frame: {walked * 1000:.0f} ms)"
    )
    assert response.status_code == 400 and "too many frames" in response.json()["error"]


def test_a_49_megapixel_png_of_a_few_kilobytes_is_refused_from_its_header(alice_client):
    buffer = io.BytesIO()
    Image.new("1", (7000, 7000)).save(buffer, "PNG")
    with mock.patch.object(processing, "decode", wraps=processing.decode) as decode:
        response = upload(alice_client, buffer.getvalue())
    assert response.status_code == 400 and "too many pixels (7000×7000, 49 megapixels)" in response.json()["error"]
    assert decode.call_count == 0
    assert len(buffer.getvalue()) < 10_000


def test_a_file_someone_else_uploaded_is_processed_again_so_its_timing_tells_nothing(alice_client, bob, client):
    data = picture("PNG", size=(300, 200), color=(1, 2, 3))
    client.force_login(bob)
    assert upload(client, data).status_code == 201
    with mock.patch.object(processing, "process", wraps=processing.process) as process:
        assert upload(alice_client, data).status_code == 201
    assert process.call_count == 1  # the same work as for a file never seen


def test_uploads_over_the_rate_get_429_with_retry_after(alice_client, settings):
    settings.IMAGE_UPLOAD_RATE = "3/minute"
    statuses = [upload(alice_client, picture(color=(n, 0, 0))).status_code for n in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    refused = upload(alice_client, picture())
    assert "Too many image uploads" in refused.json()["error"] and int(refused["Retry-After"]) >= 1


def test_one_user_holds_one_processing_slot_at_a_time_and_others_get_the_rest(settings):
    settings.IMAGE_PROCESSING_SLOTS = 2
    inside, release = [], threading.Event()

    def work(user_id):
        with slots.slot(user_id):
            inside.append(user_id)
            release.wait(10)

    threads = [threading.Thread(target=work, args=(user,)) for user in (1, 1, 1, 2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(inside) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert sorted(inside) == [1, 2]  # alice's other two uploads wait; bob's did not
    release.set()
    for thread in threads:
        thread.join(10)
    assert sorted(inside) == [1, 1, 1, 2]
