"""Failures answered in OpenAI's error shape, so that its clients report them well."""

from django.http import JsonResponse


class ApiError(Exception):
    def __init__(self, status, message, type="invalid_request_error", param=None, code=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self):
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self):
        return JsonResponse(self.body(), status=self.status, headers=self.headers)


class BadRequest(ApiError):
    def __init__(self, message, param=None, code=None):
        super().__init__(400, message, param=param, code=code)


def missing_key():
    return ApiError(
        401,
        "You didn't provide an API key. Send it in an Authorization header using Bearer auth "
        "(Authorization: Bearer YOUR_KEY). Keys are made in the admin or with `manage.py create_api_token`.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def invalid_key(secret):
    shown = f"{secret[:8]}…" if len(secret) > 12 else "…"
    return ApiError(
        401,
        f"Incorrect API key provided: {shown}. It may be mistyped or revoked.",
        code="invalid_api_key",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def unknown_model(model):
    return ApiError(
        404,
        f"The model `{model}` does not exist or you do not have access to it. GET /v1/models lists the bots.",
        param="model",
        code="model_not_found",
    )


def rate_limited(rate, retry_after):
    return ApiError(
        429,
        f"Rate limit reached for this API token: {rate}. Please try again in {retry_after} s.",
        type="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": str(retry_after)},
    )


def limit_reached(refusal):
    """A per-user limit or quota (chatapp.chat.quotas.LimitReached) in OpenAI's 429 shape."""
    kind = "insufficient_quota" if refusal.code == "quota_exceeded" else "requests"
    return ApiError(
        429, str(refusal), type=kind, code=refusal.code, headers={"Retry-After": str(refusal.retry_after)}
    )


def model_unavailable(reason):
    return ApiError(503, reason, type="server_error", code="model_unavailable", headers={"Retry-After": "10"})


def answer_failed(reason):
    return ApiError(500, reason, type="server_error", code="answer_failed")


def not_found(path):
    return ApiError(404, f"Unknown endpoint: {path}. This server offers GET /v1/models and POST /v1/chat/completions.")


def method_not_allowed(method, allowed):
    return ApiError(
        405, f"{method} is not allowed here; use {', '.join(allowed)}.", headers={"Allow": ", ".join(allowed)}
    )
