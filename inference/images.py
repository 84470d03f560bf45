"""Images in chat messages, turned into text for a model that cannot see.

The CPU model is text-only, so each image is replaced by a delimited block with its
format, pixel size and whatever text OCR finds in it. Only inline ``data:`` URIs are
accepted: fetching URLs on a caller's behalf would let any client make this service
issue requests into our network (SSRF).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from .errors import invalid

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 20 * 1024 * 1024
# Far below Pillow's decompression-bomb threshold: OCR time grows with area and a
# 2-core machine should not spend minutes on one screenshot.
MAX_IMAGE_PIXELS = 40_000_000
# RapidOCR reports a confidence per line; below this the "text" is mostly noise.
MIN_OCR_SCORE = 0.5


# Enough base64 for the headers of a PNG, GIF or WebP and of most JPEGs (whose
# size comes after their EXIF and colour profile): 48 KiB of image.
HEADER_CHARS = 64 * 1024


@dataclass(frozen=True)
class ImagePart:
    """An image part from a request: its base64 text, checked for shape but not decoded.

    What an image would cost can be learnt from it cheaply: its size in bytes from
    the length of the text, its pixel size from the first few KiB. A server checks
    those for every image of a request before it decodes any of them.
    """

    payload: str  # base64, whitespace removed
    param: str  # where it was in the request, for error messages

    @property
    def declared_bytes(self) -> int:
        return len(self.payload) * 3 // 4 - self.payload[-2:].count("=")

    def decode(self) -> bytes:
        try:
            data = base64.b64decode(self.payload, validate=True)
        except (binascii.Error, ValueError):
            raise invalid("The image data: URI is not valid base64.", param=self.param, code="invalid_image") from None
        if not data:
            raise invalid("The image data: URI is empty.", param=self.param, code="invalid_image")
        return data

    def declared_size(self) -> tuple[int, int] | None:
        """(width, height) from the image's header, decoding no pixel; None when unreadable.

        Raises APIError for a picture so large that Pillow refuses to open it.
        """
        for text in (self.payload[:HEADER_CHARS], self.payload):
            try:
                data = base64.b64decode(text, validate=True)
                with Image.open(io.BytesIO(data)) as picture:
                    return picture.size
            except Image.DecompressionBombError:
                raise invalid("The image has too many pixels.", param=self.param, code="invalid_image") from None
            except (binascii.Error, UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
                if len(text) == len(self.payload):
                    return None
        return None


@dataclass(frozen=True)
class ImageDescription:
    format: str
    width: int
    height: int
    text: str


def image_part(url: object, *, param: str) -> ImagePart:
    """Check an ``image_url`` part's URL: an inline base64 data: URI of at most MAX_IMAGE_BYTES."""
    if not isinstance(url, str) or not url:
        raise invalid("An `image_url` part needs a `url`.", param=param)
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme != "data":
        raise invalid(
            "Images must be sent inline as data: URIs (data:image/png;base64,…); this server does not fetch URLs.",
            param=param,
            code="image_url_not_supported",
        )
    header, sep, payload = url.partition(",")
    if not sep or not header.lower().endswith(";base64"):
        raise invalid("An image data: URI must be base64-encoded (data:image/png;base64,…).", param=param)
    # A base64 payload is 4/3 the size of the bytes it carries.
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise invalid(f"Image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB.", param=param)
    return ImagePart(payload="".join(payload.split()), param=param)


def check_declared_size(image: ImagePart) -> None:
    """Refuse an image whose header declares more than MAX_IMAGE_PIXELS, before decoding it."""
    size = image.declared_size()
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise invalid(
            f"Image is {size[0]}×{size[1]} px; at most {MAX_IMAGE_PIXELS:,} pixels are accepted.", param=image.param
        )


def image_block(number: int, image: ImageDescription) -> str:
    """The text that stands in for an image in the prompt."""
    head = f"[Image {number}: {image.format}, {image.width}×{image.height} px."
    if image.text:
        return f"{head} Text found in the image (OCR):\n{image.text}\n]"
    return f"{head} No text was found in the image (OCR).]"


class ImageReader:
    """Reads pixel size, format and text of images. Blocking: call it from a thread."""

    def __init__(self) -> None:
        self._ocr: Any = None
        # The OCR engine is created once (its models take a moment to load) and used
        # by one thread at a time, which also keeps OCR from starving the LLM of CPU.
        self._lock = threading.Lock()

    def describe(self, image: ImagePart) -> ImageDescription:
        data = image.decode()
        try:
            with Image.open(io.BytesIO(data)) as picture:
                fmt = picture.format or "unknown"
                width, height = picture.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise invalid(
                        f"Image is {width}×{height} px; at most {MAX_IMAGE_PIXELS:,} pixels are accepted.",
                        param=image.param,
                    )
                picture.load()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise invalid("The image could not be decoded.", param=image.param) from None
        return ImageDescription(format=fmt, width=width, height=height, text=self._read_text(data))

    def _read_text(self, data: bytes) -> str:
        with self._lock:
            try:
                if self._ocr is None:
                    from rapidocr_onnxruntime import RapidOCR

                    self._ocr = RapidOCR(
                        # The default scales the *shorter* side up to 736 px, which turns
                        # a 1000×130 banner into a 5700×736 detection input (8 s instead
                        # of 1 s here); capping the longer side keeps big screenshots
                        # legible and small images cheap.
                        det_limit_type="max",
                        det_limit_side_len=1536,
                        # Chat screenshots are upright; skip the 180° text classifier.
                        use_cls=False,
                    )
                result, _ = self._ocr(data)
            except Exception:
                # A picture without readable text is still worth describing by size.
                log.exception("OCR failed")
                return ""
        if not result:
            return ""
        return "\n".join(text for _box, text, score in result if float(score) >= MIN_OCR_SCORE)
