from django import template
from django.contrib.auth.models import AnonymousUser, User

from chatapp.chat.quotas import usage_of

register = template.Library()


@register.inclusion_tag("chat/token_usage.html")
def token_usage(user: User | AnonymousUser) -> dict[str, object]:
    """Today's tokens, quietly, next to the account's name."""
    return {"usages": usage_of(user) if user.is_authenticated else []}
