"""CPU inference service (OpenAI-compatible) and the async client for any such endpoint.

Plain Python, no Django: the web app talks to it over HTTP like to any other endpoint.
"""
