"""Every write to the knowledge base: drafts, publishing, imports and unanswered questions."""

from django.db import transaction

from chatapp.faq.models import FAQEntry, UnansweredQuestion


def create_draft_entry(question, answer, conversation=None, message=None, user=None, phrasings="", tags=""):
    """A new draft entry, e.g. promoted from a reviewed conversation; a reviewer publishes it."""
    question = " ".join((question or "").split())[:300]
    entry = FAQEntry(
        question=question,
        answer=(answer or "").strip(),
        phrasings=phrasings,
        tags=tags,
        status=FAQEntry.Status.DRAFT,
        source_conversation=conversation,
        source_message=message,
        updated_by=user if user is not None and user.is_authenticated else None,
    )
    entry.save()
    return entry


def draft_from_unanswered(questions, user=None):
    """A draft entry for a group of unanswered questions, which it then answers."""
    questions = list(questions)
    first, *others = questions
    phrasings = "\n".join(dict.fromkeys(q.question.strip() for q in others if q.question.strip() != first.question))
    with transaction.atomic():
        entry = create_draft_entry(first.question, "", user=user, phrasings=phrasings)
        UnansweredQuestion.objects.filter(pk__in=[q.pk for q in questions]).update(entry=entry)
    return entry


def record_unanswered(question, conversation=None, message=None, user=None, best_score=None):
    return UnansweredQuestion.objects.create(
        question=question,
        conversation=conversation,
        message=message,
        asked_by=user,
        best_score=best_score,
    )


def set_status(entries, status, user=None):
    """Publish or withdraw entries; saves one by one so each gets its new updated_at."""
    changed = 0
    for entry in entries:
        if entry.status != status:
            entry.status = status
            entry.updated_by = user
            entry.save(update_fields=["status", "updated_by"])
            changed += 1
    return changed
