"""The chat says when its model is only a demo model, and how to use a real one."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_chat_says_plainly_that_the_default_model_is_a_small_demo_and_how_to_change_it(alice_client, settings):
    page = alice_client.get("/").content.decode()
    assert "Demo model." in page and "SmolLM2-135M-Instruct" in page and "INFERENCE_URL" in page
    settings.INFERENCE_MODEL = "mistralai/Ministral-3-3B-Instruct-2512"
    assert "Demo model." not in alice_client.get("/").content.decode()
