"""Image upload processing: time per 12-megapixel JPEG and bytes kept on disk.

Baseline, in the same run on the same photo: the straightforward Pillow path
(decode every pixel, Lanczos resize, default WebP effort), which is what the
processing would cost without its shortcuts.

    python -m benchmarks.images [runs]
"""

import io
import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

from django.conf import settings  # noqa: E402
from PIL import ExifTags, Image, ImageOps  # noqa: E402

from chatapp.images import processing  # noqa: E402


def camera_photo(width=4000, height=3000):
    """A 12 MP photo-like JPEG: smooth shapes, fine grain, EXIF orientation and GPS."""
    scene = Image.effect_mandelbrot((width, height), (-2.2, -1.2, 1.0, 1.2), 80).convert("RGB")
    sky = Image.merge(
        "RGB",
        [Image.linear_gradient("L").resize((width, height)).rotate(angle) for angle in (0, 90, 180)],
    )
    # Colour sensor noise: what makes a real photo 3 MB rather than 1.
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 30) for _ in range(3)])
    photo = Image.blend(Image.blend(scene, sky, 0.5), grain, 0.2)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Camera"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def naive(data):
    """Full decode and default-effort encoders: the baseline."""
    image = Image.open(io.BytesIO(data))
    image.load()
    image = ImageOps.exif_transpose(image).convert("RGB")
    side = settings.IMAGE_MAX_SIDE
    image.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=None)
    image.save(io.BytesIO(), "JPEG", quality=processing.JPEG_QUALITY)
    thumbnail = image.copy()
    thumbnail.thumbnail((settings.IMAGE_THUMBNAIL_SIDE,) * 2, Image.Resampling.LANCZOS, reducing_gap=None)
    thumbnail.save(io.BytesIO(), "WEBP", quality=processing.THUMBNAIL_QUALITY)


def timed(function, data, runs):
    """Median wall time and median CPU time: on a busy machine the CPU time is the steadier figure."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        function(data)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main(runs=7):
    data = camera_photo()
    processing.process(data)  # warm up codecs
    naive(data)
    ours_wall, ours_cpu = timed(processing.process, data, runs)
    base_wall, base_cpu = timed(naive, data, runs)
    result = processing.process(data)
    stored = len(result.data) + len(result.thumbnail)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"12 MP JPEG (4000×3000, {len(data) / 1e6:.2f} MB as uploaded), median of {runs} runs, {os.cpu_count()} CPUs, load {load:.1f}"
    )
    print(
        f"  processing (validate, rotate, strip, resize, thumbnail): {ours_wall * 1000:4.0f} ms wall, {ours_cpu * 1000:4.0f} ms CPU"
    )
    print(
        f"  baseline (full decode, Lanczos, default WebP effort):   {base_wall * 1000:4.0f} ms wall, {base_cpu * 1000:4.0f} ms CPU"
    )
    print(f"  speed-up over the baseline: {base_cpu / ours_cpu:.2f}× (CPU time)")
    print(
        f"  stored: {result.width}×{result.height} {result.format} {len(result.data) / 1e3:.0f} kB"
        f" + thumbnail {result.thumbnail_width}×{result.thumbnail_height} {len(result.thumbnail) / 1e3:.1f} kB"
        f" = {stored / 1e3:.0f} kB, {stored / len(data):.1%} of the original"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
