from django import template
from django.conf import settings

from chatapp.chat.models import Bot
from chatapp.images.vision import image_mode

register = template.Library()


@register.inclusion_tag("images/composer.html", takes_context=True)
def image_composer(context: template.Context) -> dict[str, object]:
    """The attach button, previews and the note on how the chosen bot reads images."""
    conversation = context.get("conversation")
    user = context["request"].user
    bots = context.get("bots") or Bot.objects.visible_to(user)
    bot = (conversation.bot if conversation else None) or context.get("default_bot") or Bot.objects.default_for(user)
    current = bot.model_name if bot else settings.INFERENCE_MODEL
    return {
        "mode": image_mode(current),
        "modes": {item.slug: image_mode(item.model_name) for item in bots},
        "max_images": settings.MAX_IMAGES_PER_MESSAGE,
        "max_bytes": settings.MAX_IMAGE_BYTES,
    }
