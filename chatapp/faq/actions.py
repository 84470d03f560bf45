"""Every write to the knowledge base: drafts, publishing, imports and unanswered questions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from chatapp.faq import formats
from chatapp.faq.models import Confirmation, FAQEntry, UnansweredQuestion, question_key

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from chatapp.chat.models import Conversation, Message
    from chatapp.faq.decision import Decision


class Candidate(TypedDict):
    """A source listed under a "not sure" answer, as the unanswered question keeps it."""

    id: int
    key: str
    question: str
    score: float
    # Passages only: the question is the passage's citation, the link goes to the document at it.
    kind: NotRequired[Literal["passage"]]
    url: NotRequired[str]


class EntryFields(TypedDict):
    """The model fields an imported row sets on an entry."""

    question: str
    answer: str
    status: str
    phrasings: str
    tags: str


def create_draft_entry(
    question: str,
    answer: str,
    conversation: Conversation | None = None,
    message: Message | None = None,
    user: User | AnonymousUser | None = None,
    phrasings: str = "",
    tags: str = "",
) -> FAQEntry:
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
    if message is not None:
        # The question this answer was written for is handled: it leaves the reviewers' list.
        UnansweredQuestion.objects.open().filter(_same_question(message)).update(entry=entry)
    return entry


def _same_question(message: Message) -> Q:
    """The unanswered questions noted for `message` or for another answer (a retry) to its question."""
    same = Q(message=message)
    if message.parent_id is not None:
        same |= Q(message__parent_id=message.parent_id)
    return same


def draft_from_unanswered(
    questions: Iterable[UnansweredQuestion], user: User | AnonymousUser | None = None
) -> FAQEntry:
    """A draft entry for a group of unanswered questions, which it then answers."""
    questions = list(questions)
    first, *others = questions
    phrasings = "\n".join(dict.fromkeys(q.question.strip() for q in others if q.question.strip() != first.question))
    with transaction.atomic():
        entry = create_draft_entry(first.question, "", user=user, phrasings=phrasings)
        UnansweredQuestion.objects.filter(pk__in=[q.pk for q in questions]).update(entry=entry)
    return entry


def record_unanswered(
    question: str,
    conversation: Conversation | None = None,
    message: Message | None = None,
    best_score: float | None = None,
    outcome: str | None = None,
    candidates: Iterable[Candidate] = (),
) -> UnansweredQuestion:
    """Note a question the knowledge base did not answer; whoever asked is the conversation's owner."""
    return UnansweredQuestion.objects.create(
        question=question,
        conversation=conversation,
        message=message,
        asked_by_id=conversation.owner_id if conversation else None,
        best_score=best_score,
        outcome=outcome or UnansweredQuestion.Outcome.NOT_COVERED,
        candidates=list(candidates),
    )


def note_question(question: str, decision: Decision, message: Message) -> UnansweredQuestion | None:
    """Record for the reviewers a question answered "not sure" or "not covered", with the entries listed.

    A retry of the same answer asks again: the question is on the list once.
    """
    if UnansweredQuestion.objects.filter(_same_question(message)).exists():
        return None
    unsure = decision.outcome == UnansweredQuestion.Outcome.UNSURE
    candidates: list[Candidate] = []
    for hit in decision.hits if unsure else []:
        candidate: Candidate = {
            "id": hit.document.id,
            "key": hit.key,
            "question": hit.document.question,
            "score": hit.score,
        }
        if hit.document.is_passage:
            # A passage is listed with its citation and the link to the document at it.
            candidate |= {"kind": "passage", "question": hit.document.label, "url": hit.document.url}
        candidates.append(candidate)
    return record_unanswered(
        question,
        conversation=message.conversation,
        message=message,
        best_score=decision.best_score,
        outcome=decision.outcome if unsure else UnansweredQuestion.Outcome.NOT_COVERED,
        candidates=candidates,
    )


def add_phrasing(
    questions: Iterable[UnansweredQuestion], entry: FAQEntry, user: User | AnonymousUser | None = None
) -> list[str]:
    """The questions become "also asked" phrasings of `entry`, which answers them from now on.

    The entry's save rebuilds the index and recalibrates the decision, so the
    next person asking it this way gets the answer.
    """
    questions = list(questions)
    known = {line.casefold() for line in [entry.question, *entry.phrasing_list]}
    added = [
        text
        for text in dict.fromkeys(" ".join(q.question.split())[:300] for q in questions)
        if text.casefold() not in known
    ]
    with transaction.atomic():
        if added:
            entry.phrasings = "\n".join([*entry.phrasing_list, *added])
            entry.updated_by = user if user is not None and user.is_authenticated else None
            entry.save(update_fields=["phrasings", "updated_by"])
        UnansweredQuestion.objects.filter(pk__in=[q.pk for q in questions]).update(entry=entry)
    return added


def dismiss_questions(questions: Iterable[UnansweredQuestion]) -> int:
    """Take questions off the reviewers' list: nothing to add to the knowledge base for them."""
    return UnansweredQuestion.objects.filter(pk__in=[question.pk for question in questions]).update(dismissed=True)


def set_status(entries: Iterable[FAQEntry], status: str, user: User | None = None) -> int:
    """Publish or withdraw entries; saves one by one so each gets its new updated_at."""
    changed = 0
    for entry in entries:
        if entry.status != status:
            entry.status = status
            entry.updated_by = user
            entry.save(update_fields=["status", "updated_by"])
            changed += 1
    return changed


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (where, message)

    def __str__(self) -> str:
        text = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if self.errors:
            text += f", {len(self.errors)} row(s) with errors"
        return text


def entry_fields(row: formats.Row, entry: FAQEntry) -> EntryFields:
    """The model fields a row sets on `entry` (a new or existing one); raises ValidationError."""
    question = " ".join(row.get("question", "").split())
    if not question:
        raise ValidationError("the question is empty")
    answer = row.get("answer", "")
    if not answer:
        raise ValidationError("the answer is empty")
    status = (row.get("status") or entry.status or FAQEntry.Status.PUBLISHED).lower()
    if status not in FAQEntry.Status.values:
        raise ValidationError(f"status must be one of {', '.join(FAQEntry.Status.values)}, not {status!r}")
    fields: EntryFields = {
        "question": question,
        "answer": answer,
        "status": status,
        "phrasings": "\n".join(row["phrasings"]) if "phrasings" in row else entry.phrasings,
        "tags": ", ".join(row["tags"]) if "tags" in row else entry.tags,
    }
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.full_clean(exclude=["updated_by", "source_conversation", "source_message"], validate_unique=False)
    return fields


def describe(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
    return "; ".join(error.messages)


def import_rows(rows: formats.Rows, user: User | None = None) -> ImportReport:
    """Create or update entries from `(where, row)` pairs, matched by key.

    A row without a key is matched by the key its question would get, so
    importing the same file twice changes nothing. A bad row is reported and
    skipped; the others are saved.
    """
    report = ImportReport()
    seen: dict[str, str] = {}
    for where, row in rows:
        if isinstance(row, Exception):
            report.errors.append((where, str(row)))
            continue
        key = row.get("key") or slugify(row.get("question", ""))[:90].strip("-")
        if not key:
            report.errors.append((where, "the question is empty"))
            continue
        if key in seen:
            report.errors.append((where, f"key {key!r} appears twice (also at {seen[key]})"))
            continue
        seen[key] = where
        entry = FAQEntry.objects.filter(key=key).first()
        is_new = entry is None
        if entry is None:
            # Imported entries are the team's curated answers: published unless the file says otherwise.
            entry = FAQEntry(key=key, status="")
        before = {name: getattr(entry, name) for name in ("question", "answer", "status", "phrasings", "tags")}
        try:
            with transaction.atomic():
                fields = entry_fields(row, entry)
                if not is_new and fields == before:
                    report.unchanged += 1
                    continue
                entry.updated_by = user
                entry.save()
        except ValidationError as error:
            report.errors.append((where, describe(error)))
            continue
        if is_new:
            report.created += 1
        else:
            report.updated += 1
    return report


def import_text(text: str, file_format: str, user: User | None = None) -> ImportReport:
    return import_rows(formats.read(text, file_format), user=user)


class NotConfirmable(Exception):
    """A "This answers it" that does not point at a source listed to this person under a "not sure" answer."""


def confirm_source(user: User, message_id: int, number: int) -> Confirmation:
    """Record that source `number`, listed under the "not sure" answer `message_id`, answers its question.

    Only the person who asked may confirm, only sources listed to them; a second
    click on the same answer moves the confirmation. Nothing changes for anyone
    until a reviewer accepts it.
    """
    from chatapp.chat.models import Message

    reply = (
        Message.objects.filter(pk=message_id, role="assistant", conversation__owner=user)
        .select_related("conversation")
        .first()
    )
    if reply is None:
        raise NotConfirmable("No such answer.")
    listed = [item for item in reply.sources or [] if isinstance(item, dict) and item.get("use") == "closest"]
    chosen = next((item for item in listed if item.get("number") == number), None)
    if chosen is None:
        raise NotConfirmable("That source was not listed under this answer.")
    question = reply.parent if reply.parent_id else None
    if question is None or question.role != "user":
        question = reply.conversation.messages.filter(role="user", pk__lt=reply.pk).order_by("-pk").first()
    if question is None:
        raise NotConfirmable("No question to confirm.")
    entry = passage = None
    if chosen.get("kind") == "passage":
        from chatapp.documents.models import Passage

        passage = Passage.objects.visible_to(user).filter(pk=-int(chosen["id"])).first()
    else:
        entry = FAQEntry.objects.published().visible_to(user).filter(pk=chosen["id"]).first()
    if entry is None and passage is None:
        raise NotConfirmable("That source is no longer available.")
    confirmation, _ = Confirmation.objects.update_or_create(
        message=reply,
        user=user,
        defaults={
            "question": question.content[:2000],
            "question_key": question_key(question.content),
            "entry": entry,
            "passage": passage,
            "source_key": f"passage:{passage.pk}" if passage is not None else f"entry:{entry.pk}",  # type: ignore[union-attr]
            "status": Confirmation.Status.PENDING,
        },
    )
    return confirmation


def accept_confirmation(confirmation: Confirmation, user: User | AnonymousUser | None = None) -> FAQEntry:
    """The confirmed question becomes a phrasing of the entry, or, for a passage, a new published entry.

    Every pending confirmation of the same question and source is accepted with it.
    """
    with transaction.atomic():
        if confirmation.entry is not None:
            entry = confirmation.entry
            question = " ".join(confirmation.question.split())[:300]
            if question.casefold() not in {line.casefold() for line in [entry.question, *entry.phrasing_list]}:
                entry.phrasings = "\n".join([*entry.phrasing_list, question])
                entry.updated_by = user if user is not None and user.is_authenticated else None
                entry.save(update_fields=["phrasings", "updated_by"])
        else:
            passage = confirmation.passage
            assert passage is not None
            entry = create_draft_entry(
                confirmation.question,
                f"{passage.text.strip()}\n\nFrom {passage.citation_label}.",
                user=user,
            )
            entry.status = FAQEntry.Status.PUBLISHED
            entry.save(update_fields=["status"])
        Confirmation.objects.pending().same_pair(confirmation).update(status=Confirmation.Status.ACCEPTED)
    return entry


def dismiss_confirmation(confirmation: Confirmation) -> int:
    return Confirmation.objects.pending().same_pair(confirmation).update(status=Confirmation.Status.DISMISSED)
