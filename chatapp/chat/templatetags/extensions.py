"""`{% extension "slot" %}`: where the core's templates render what features registered (see chatapp.chat.extensions)."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from chatapp.chat.extensions import Slot, registry

register = template.Library()


@register.simple_tag(takes_context=True)
def extension(context: template.Context, slot: str) -> SafeString:
    """Every template registered at `slot`, rendered with the page's context (an unknown slot is an error)."""
    engine = context.template.engine if context.template is not None else template.Engine.get_default()
    parts = [engine.get_template(name).render(context) for name in registry.templates.get(Slot(slot), [])]
    return mark_safe("".join(parts))
