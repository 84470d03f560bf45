"""Failures answered in OpenAI's error shape, so that its clients report them well.

The shape and the exception are the inference service's (`inference.errors`):
one definition for both servers. The API's own refusals are named here.
"""

from typing import TYPE_CHECKING

from django.http import JsonResponse

from inference.errors import APIError

if TYPE_CHECKING:
    from chatapp.chat.quotas import LimitReached


def error_response(error: APIError) -> JsonResponse:
    return JsonResponse(error.body(), status=error.status, headers=error.headers)


def missing_key() -> APIError:
    return APIError(
        401,
        "You didn't provide an API key. Send it in an Authorization header using Bearer auth "
        "(Authorization: Bearer YOUR_KEY). Keys are made in the admin or with `manage.py create_api_token`.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def invalid_key(secret: str) -> APIError:
    shown = f"{secret[:8]}…" if len(secret) > 12 else "…"
    return APIError(
        401,
        f"Incorrect API key provided: {shown}. It may be mistyped or revoked.",
        code="invalid_api_key",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def key_withdrawn() -> APIError:
    """The token was revoked, or its user deactivated, while its answer streamed."""
    return APIError(
        401,
        "This API key was revoked (or its account deactivated) while the answer was being written.",
        code="invalid_api_key",
    )


def unknown_model(model: str) -> APIError:
    return APIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it. GET /v1/models lists the bots.",
        param="model",
        code="model_not_found",
    )


def rate_limited(rate: object, retry_after: int) -> APIError:
    return APIError(
        429,
        f"Rate limit reached for this API token: {rate}. Please try again in {retry_after} s.",
        type="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": str(retry_after)},
    )


def limit_reached(refusal: "LimitReached") -> APIError:
    """A per-user limit or quota (chatapp.chat.quotas.LimitReached) in OpenAI's 429 shape."""
    kind = "insufficient_quota" if refusal.code == "quota_exceeded" else "requests"
    return APIError(429, str(refusal), type=kind, code=refusal.code, headers={"Retry-After": str(refusal.retry_after)})


def model_unavailable(reason: str) -> APIError:
    return APIError(503, reason, type="server_error", code="model_unavailable", headers={"Retry-After": "10"})


def answer_failed(reason: str) -> APIError:
    return APIError(500, reason, type="server_error", code="answer_failed")


def not_found(path: str) -> APIError:
    return APIError(404, f"Unknown endpoint: {path}. This server offers GET /v1/models and POST /v1/chat/completions.")


def method_not_allowed(method: str, allowed: tuple[str, ...]) -> APIError:
    return APIError(
        405, f"{method} is not allowed here; use {', '.join(allowed)}.", headers={"Allow": ", ".join(allowed)}
    )
