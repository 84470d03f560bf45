"""Request parsing and prompt building: pure functions, no model needed."""

from __future__ import annotations

import base64

import pytest

from inference.chat_request import parse_chat_request
from inference.errors import APIError
from inference.images import ImageDescription, image_block
from inference.prompt import text_messages

MODEL = "SmolLM2-135M-Instruct"
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()


def parse(**fields):
    return parse_chat_request({"model": MODEL, **fields}, served_model=MODEL)


def test_image_parts_become_numbered_blocks_where_the_images_were():
    request = parse(
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare these:"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                    {"type": "text", "text": "and"},
                    {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
                ],
            },
        ]
    )
    descriptions = [
        ImageDescription("PNG", 800, 200, "ERROR 504\nupstream timeout"),
        ImageDescription("JPEG", 64, 64, ""),
    ]
    assert text_messages(request.messages, descriptions) == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": "Compare these:\n"
            "[Image 1: PNG, 800×200 px. Text found in the image (OCR):\nERROR 504\nupstream timeout\n]\n"
            "and\n"
            "[Image 2: JPEG, 64×64 px. No text was found in the image (OCR).]",
        },
    ]


def test_image_block_is_clearly_delimited():
    block = image_block(3, ImageDescription("WEBP", 10, 20, "hello"))
    assert block == "[Image 3: WEBP, 10×20 px. Text found in the image (OCR):\nhello\n]"


def test_plain_and_null_content_are_kept():
    request = parse(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}])
    assert text_messages(request.messages, []) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": ""},
    ]


def test_defaults_and_aliases():
    request = parse(messages=[{"role": "user", "content": "hi"}], max_completion_tokens=5, repetition_penalty=1.3)
    assert request.max_tokens == 5 and request.repeat_penalty == 1.3
    assert (
        request.stream is False
        and request.stop == []
        and 1.1 <= parse(messages=[{"role": "user", "content": "x"}]).repeat_penalty <= 1.2
    )
    assert parse_chat_request({"messages": [{"role": "user", "content": "x"}]}, served_model=MODEL).model == MODEL
    assert parse(messages=[{"role": "user", "content": "x"}], stop="END").stop == ["END"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        (
            {"messages": [{"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}]},
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}
                ]
            },
            "messages[0].content[0].image_url",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}
                ]
            },
            "messages[0].content[0].image_url",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": True}}, "stream_options"),
        ({"messages": [{"role": "user", "content": "x"}], "top_p": 0}, "top_p"),
        ({"messages": [{"role": "user", "content": "x"}], "seed": "7"}, "seed"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ],
)
def test_invalid_requests_name_the_offending_field(fields, param):
    with pytest.raises(APIError) as caught:
        parse(**fields)
    assert caught.value.status == 400 and caught.value.param == param


def test_too_many_images_are_refused():
    parts = [{"type": "image_url", "image_url": {"url": PNG}}] * 9
    with pytest.raises(APIError):
        parse(messages=[{"role": "user", "content": parts}])
