"""The official OpenAI client, pointed at the app's API."""

from openai import OpenAI


def client_for(live_app, key):
    # No retries: a test asserts the first answer, 429 and 503 included.
    return OpenAI(base_url=f"{live_app}/v1", api_key=key, max_retries=0, timeout=180)
