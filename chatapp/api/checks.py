from collections.abc import Sequence

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from chatapp.api.throttle import parse_rate


@register()
def check_rate_limit(app_configs: Sequence[AppConfig] | None, **kwargs: object) -> list[CheckMessage]:
    try:
        parse_rate(settings.API_RATE_LIMIT)
    except ValueError as error:
        return [
            Error(
                f"API_RATE_LIMIT={settings.API_RATE_LIMIT!r} is not a rate: {error}",
                hint='Write it as "60/minute", "1000/hour" or "10 per second"; empty turns the limit off.',
                id="api.E001",
            )
        ]
    return []
