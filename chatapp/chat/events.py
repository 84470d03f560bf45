"""The shapes of what listeners receive, shared by the worker, actions and consumer."""


def conversation_group(conversation_id):
    return f"conversation-{conversation_id}"


def user_group(user_id):
    return f"user-{user_id}"


def message_payload(message):
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "role": message.role,
        "status": message.status,
        "content": message.content,
        "html": message.html,
        "seq": message.seq,
        "attempt": message.attempt,
        "error": message.error,
        "error_code": message.error_code,
        # The streamed text was replaced by the knowledge base's own answer.
        "replaced": bool(message.rejected_draft),
        "model": message.model,
        "created_at": message.created_at.isoformat(),
        "usage": {
            "prompt_tokens": message.prompt_tokens,
            "completion_tokens": message.completion_tokens,
        },
        "time_to_first_token": message.time_to_first_token,
        "duration": message.duration,
        "sources": message.sources,
        "images": [image.as_event() for image in message_images(message)],
        "images_left_out": images_left_out(message),
    }


def message_images(message):
    # Only the user's messages carry images; answers are serialised on the
    # worker's event loop, where a query is not allowed.
    if message.role != "user":
        return []
    return list(message.images.all())


def images_left_out(message):
    """How many earlier images the prompt of this answer had to leave out to fit."""
    if message.role != "assistant":
        return 0
    return len(message.images_left_out.all())


def message_event(message):
    return {"type": "chat.message", "message": message_payload(message)}


def chunk_event(message, seq, delta, html=None):
    """Chunk `seq` of an answer; `from` names the chunk it follows, for gap detection."""
    event = {
        "type": "chat.chunk",
        "message_id": message.pk,
        "attempt": message.attempt,
        "from": seq - 1,
        "seq": seq,
        "delta": delta,
    }
    if html is not None:
        event["html"] = html
    return event


def conversation_event(conversation, deleted=False):
    return {
        "type": "chat.conversation",
        "conversation": {
            "id": conversation.pk,
            "title": conversation.title,
            "updated_at": conversation.updated_at.isoformat(),
            "deleted": deleted,
        },
    }
