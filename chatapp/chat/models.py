import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self, TypedDict, Unpack

from django.conf import settings
from django.db import models
from django.utils import timezone

from chatapp.chat.audience import GroupLimitedQuerySet
from chatapp.chat.signals import answer_finished

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from django.contrib.auth.models import AnonymousUser, User


class EngineFigures(TypedDict, total=False):
    """What the generation of an answer measured (`model` "" for one no model wrote)."""

    model: str
    duration: float
    time_to_first_token: float
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str


class Figures(EngineFigures, total=False):
    """What an ended answer records beside its text and status."""

    sources: list
    rejected_draft: str


class BotQuerySet(GroupLimitedQuerySet["Bot"]):
    """`visible_to(user)`: the bots `user` may talk to (`chatapp.chat.audience`)."""

    def default_for(self, user: "User | AnonymousUser") -> "Bot | None":
        return self.visible_to(user).order_by("-is_default", "position", "id").first()


class Bot(models.Model):
    """A persona the user talks to: its prompt, model and sampling settings."""

    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True, help_text="Model id in the API (/v1/models).")
    description = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True, help_text="Inference model name; empty uses INFERENCE_MODEL.")
    # Empty: the deployment's INFERENCE_TEMPERATURE / INFERENCE_MAX_TOKENS, so
    # what the operator sets reaches every bot that does not say otherwise.
    temperature = models.FloatField(
        null=True, blank=True, help_text="Sampling temperature; empty uses INFERENCE_TEMPERATURE."
    )
    max_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="Longest answer in tokens; empty uses INFERENCE_MAX_TOKENS."
    )
    uses_knowledge_base = models.BooleanField(
        default=False, help_text="Answer only from published FAQ entries, with citations."
    )
    is_default = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="bots",
        help_text="Only members of these groups see and use the bot; none: everyone.",
    )

    objects = BotQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def model_name(self) -> str:
        return self.model or settings.INFERENCE_MODEL

    @property
    def sampling_temperature(self) -> float:
        return settings.INFERENCE_TEMPERATURE if self.temperature is None else self.temperature


def answer_token_limit(bot: Bot | None, asked: int | None = None) -> int:
    """The most tokens an answer may have: the bot's limit, the service's, and what an API client asked for."""
    limits = (bot.max_tokens if bot else None, settings.INFERENCE_MAX_TOKENS, asked)
    return min(limit for limit in limits if limit)


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def visible_to(self, user: "User | AnonymousUser") -> Self:
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def listed(self, source: str = "web") -> Self:
        """What the sidebar lists: conversations from `source` not archived, pinned first, then latest activity.

        API clients start a conversation per request: the chat's own list
        keeps to the browser's, the API's are listed apart.
        """
        return self.filter(archived_at__isnull=True, source=source).order_by(
            models.F("pinned_at").desc(nulls_last=True), "-updated_at", "-id"
        )

    def archived(self) -> Self:
        return self.filter(archived_at__isnull=False).order_by("-archived_at", "-id")

    def locked(self) -> Self:
        """Locked until the transaction ends, for a change to their branches; the bot comes along, unlocked."""
        return self.select_for_update(of=("self",)).select_related("bot")


class Conversation(models.Model):
    class Source(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    bot = models.ForeignKey(Bot, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)
    pinned_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # The last message of the branch the user is looking at (answer versions
    # and edited questions make the transcript a tree); null means the newest.
    current = models.ForeignKey("Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"

    def title_from(self, text: str) -> str:
        from chatapp.chat.titles import title_for

        return title_for(text)

    @property
    def is_pinned(self) -> bool:
        return self.pinned_at is not None

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def thread(self) -> "Thread":
        return Thread(self.messages.order_by("created_at", "id"))

    def branch(self, through: "Message | None" = None) -> list["Message"]:
        """The messages the user sees, oldest first: the chosen branch, or the one through `through`."""
        return self.thread().branch(self.current_id, through)


@dataclass(frozen=True)
class Versions:
    """A message's place among the versions of its turn (1-based `number` of `total`)."""

    number: int
    total: int
    previous: "Message | None"
    next: "Message | None"


class Thread:
    """A conversation's messages as a tree.

    Every message follows its `parent`; messages with the same parent and role
    are versions of one turn (a regenerated answer, an edited question).
    """

    def __init__(self, messages: "Iterable[Message]") -> None:
        self.by_id: dict[int | None, Message] = {}
        self.children: defaultdict[int | None, list[Message]] = defaultdict(list)
        for message in messages:
            self.by_id[message.pk] = message
            self.children[message.parent_id].append(message)

    def latest_leaf(self, message: "Message | None") -> "Message | None":
        """Follow the newest child from `message` (None: the root) down to the end."""
        node = message
        while self.children.get(node.pk if node else None):
            node = self.children[node.pk if node else None][-1]
        return node

    def versions(self, message: "Message") -> list["Message"]:
        return [m for m in self.children[message.parent_id] if m.role == message.role]

    def place(self, message: "Message") -> Versions:
        versions = self.versions(message)
        index = versions.index(message)
        return Versions(
            number=index + 1,
            total=len(versions),
            previous=versions[index - 1] if index > 0 else None,
            next=versions[index + 1] if index + 1 < len(versions) else None,
        )

    def branch(self, current_id: int | None, through: "Message | None" = None) -> list["Message"]:
        """The branch through `through`, else the one ending at `current_id`, else the newest."""
        if through is not None and through.pk in self.by_id:
            leaf = self.latest_leaf(self.by_id[through.pk])
        else:
            leaf = self.by_id.get(current_id) or self.latest_leaf(None)
        return self.branch_to(leaf)

    def branch_to(self, leaf: "Message | None") -> list["Message"]:
        """Root to `leaf`."""
        path = []
        node = leaf
        while node is not None:
            path.append(node)
            node = self.by_id.get(node.parent_id)
        path.reverse()
        return path

    def on_branch(self, leaf: "Message | None") -> set[int]:
        return {message.pk for message in self.branch_to(leaf)} if leaf else set()


class MessageQuerySet(models.QuerySet["Message"]):
    def visible_to(self, user: "User | AnonymousUser") -> Self:
        return self.filter(conversation__in=Conversation.objects.visible_to(user))

    def append(self, conversation: Conversation, **fields: object) -> "Message":
        """A new message following `conversation`'s latest one, as a transcript without branches is written."""
        latest = self.filter(conversation=conversation).order_by("-created_at", "-id").first()
        return self.create(conversation=conversation, parent=latest, **fields)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        STREAMING = "streaming", "Streaming"
        DONE = "done", "Done"
        STOPPED = "stopped", "Stopped"
        ERROR = "error", "Error"

    class ErrorCode(models.TextChoices):
        """Why an answer ended without finishing; the UI's words and the API's status follow from it."""

        UNAVAILABLE = "unavailable", "The model service cannot answer right now"
        TIMEOUT = "timeout", "The model service stopped responding"
        ENGINE_ERROR = "engine_error", "The model service failed"
        CUT_OFF = "cut_off", "The answer took too long and was cut off"
        WORKER_LOST = "worker_lost", "The worker writing the answer stopped"
        NOT_STARTED = "not_started", "No worker started the answer"
        DATABASE = "database", "The chat's database could not be reached"
        INTERNAL = "internal", "Something went wrong"

    class FinishReason(models.TextChoices):
        """Why the model ended a finished answer (empty: not known, or it did not finish)."""

        STOP = "stop", "The model ended the answer"
        LENGTH = "length", "Cut at the length limit"

    ACTIVE = (Status.QUEUED, Status.STREAMING)

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # The message this one follows; siblings (same parent and role) are versions.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DONE, db_index=True)
    error = models.TextField(blank=True, help_text="Why the answer failed, in words for the user.")
    error_code = models.CharField(max_length=24, blank=True, choices=ErrorCode.choices)
    model = models.CharField(max_length=200, blank=True)
    # Number of the last streamed chunk included in `content`; clients resume after it.
    seq = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    time_to_first_token = models.FloatField(null=True, blank=True, help_text="Seconds.")
    duration = models.FloatField(null=True, blank=True, help_text="Seconds from start to the last token.")
    # "length": the answer reached its token limit; the chat offers Continue.
    finish_reason = models.CharField(max_length=16, blank=True, choices=FinishReason.choices)
    # Knowledge-base entries retrieved for this answer and whether each was cited.
    sources = models.JSONField(default=list, blank=True)
    # A generated answer that the groundedness check refused; the user was
    # shown the knowledge base's own answer instead, reviewers see both.
    rejected_draft = models.TextField(blank=True)
    # An earlier assistant turn an API client sent as history: the client's
    # words, never the bot's; reviewers see it as such and cannot promote it.
    from_client = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # When the current attempt was queued: the reaper re-sends or fails answers queued too long.
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the worker writing it last said it was alive (with its Redis lease): the
    # reaper ends an answer only when both are gone, so neither store alone decides.
    alive_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["status", "queued_at"], name="chat_messag_status_queued_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role} message {self.pk}"

    @property
    def html(self) -> str:
        from chatapp.markdown import render_markdown

        return render_markdown(self.content)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.STOPPED, self.Status.ERROR)

    @property
    def tokens_per_second(self) -> float | None:
        if self.completion_tokens and self.duration and self.time_to_first_token is not None:
            decode = self.duration - self.time_to_first_token
            return self.completion_tokens / decode if decode > 0 else None
        return None

    def _update_if(self, statuses: list[str], **fields: object) -> bool:
        """Write `fields` only while the row is still in one of `statuses`.

        The database decides races (two workers, a stop during a save): the
        losing writer changes nothing and learns it from the return value.
        """
        updated = Message.objects.filter(pk=self.pk, status__in=statuses).update(**fields)
        if updated:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(updated)

    def claim(self) -> bool:
        """Take a queued answer for generation; exactly one caller wins."""
        return self._update_if([self.Status.QUEUED], status=self.Status.STREAMING, started_at=timezone.now())

    def return_to_queue(self) -> bool:
        """Give a started answer that has no text yet back to the queue, for another worker."""
        return self._update_if(
            [self.Status.STREAMING], status=self.Status.QUEUED, started_at=None, queued_at=timezone.now()
        )

    def finish(
        self,
        status: str,
        *,
        content: str | None = None,
        seq: int | None = None,
        error: str = "",
        error_code: str = "",
        **figures: Unpack[Figures],
    ) -> bool:
        fields: dict[str, object] = {
            "status": status,
            "error": error,
            "error_code": error_code,
            "finished_at": timezone.now(),
            **figures,
        }
        if content is not None:
            fields["content"] = content
        if seq is not None:
            fields["seq"] = seq
        finished = self._update_if(list(self.ACTIVE), **fields)
        if finished:
            TokenUse.settle(self, self.content)
            answer_finished.send(sender=Message, message=self)
        return finished

    @property
    def was_cut_at_length(self) -> bool:
        return self.status == self.Status.DONE and self.finish_reason == self.FinishReason.LENGTH

    def continue_after_length(self) -> bool:
        """Queue a new attempt that writes on from an answer cut at the length limit.

        Its text stays (the worker goes on from it); its figures so far stay too,
        and the new attempt's are added to them.
        """
        updated = Message.objects.filter(
            pk=self.pk, status=self.Status.DONE, finish_reason=self.FinishReason.LENGTH
        ).update(
            status=self.Status.QUEUED,
            queued_at=timezone.now(),
            finish_reason="",
            error="",
            error_code="",
            seq=0,
            attempt=models.F("attempt") + 1,
            started_at=None,
            finished_at=None,
        )
        if updated:
            self.refresh_from_db()
        return bool(updated)


class TokenQuota(models.Model):
    """A daily allowance of model tokens (prompts and answers) for one user, or shared by a group.

    A user's own quota replaces DAILY_TOKEN_QUOTA; every group quota of theirs
    applies too, counted over all the group's members.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="token_quota"
    )
    group = models.OneToOneField(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="token_quota"
    )
    daily_tokens = models.PositiveIntegerField(help_text="Prompt and answer tokens per day; 0 allows none.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="token_quota_for_a_user_or_a_group",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user or self.group}: {self.daily_tokens:,} tokens a day"

    @property
    def owner_label(self) -> str:
        return f"user {self.user}" if self.user_id else f"group {self.group}"

    def used_today(self) -> int:
        if self.user_id:
            return self.tokens_used_today(owner_ids=[self.user_id])
        return self.tokens_used_today(group_id=self.group_id)

    @staticmethod
    def start_of_day(now: "datetime | None" = None) -> "datetime":
        """Midnight in TIME_ZONE: when the day's quotas start again."""
        return timezone.localtime(now or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)

    @classmethod
    def tokens_used_today(cls, owner_ids: "Iterable[int] | None" = None, group_id: int | None = None) -> int:
        """Prompt and answer tokens the day's answers cost (the ledger), of some users or of a group's members."""
        uses = TokenUse.objects.filter(created_at__gte=cls.start_of_day())
        if group_id is not None:
            uses = uses.filter(user__groups=group_id)
        else:
            assert owner_ids is not None, "some users or a group"
            uses = uses.filter(user__in=owner_ids)
        return uses.total()


# Characters per token is about 4 for English with these tokenizers; 3 keeps
# estimates on the safe side for code and other languages (a prompt that must
# fit, an answer whose cost the engine never reported).
CHARS_PER_TOKEN = 3


def count_tokens(text: str) -> int:
    """The tokens of `text`, estimated from its length (rounded up)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class TokenUseQuerySet(models.QuerySet["TokenUse"]):
    def total(self) -> int:
        return self.aggregate(total=models.Sum(models.F("prompt_tokens") + models.F("completion_tokens")))["total"] or 0


class TokenUse(models.Model):
    """What one attempt at an answer cost: the ledger that quotas and usage figures read.

    A row is opened when the prompt is sent to the model (its tokens as
    estimated then) and settled when the answer ends, however it ends: with
    the engine's usage when it arrived, otherwise the prompt's estimate and
    the answer's tokens counted from its text (a stopped answer, a stream the
    client dropped, a lost worker). Rows refer to the answer by id, not by a
    foreign key: deleting or purging conversations never gives tokens back.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_uses")
    answer_id = models.PositiveBigIntegerField(help_text="The answer (chat message) this attempt wrote.")
    attempt = models.PositiveSmallIntegerField(default=1)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # The engine's usage never arrived: the figures are estimates from the texts.
    estimated = models.BooleanField(default=True)
    settled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TokenUseQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["answer_id", "attempt"], name="one_token_use_per_attempt")]
        indexes = [models.Index(fields=["user", "created_at"], name="chat_tokenuse_user_day_idx")]

    def __str__(self) -> str:
        return f"answer {self.answer_id} attempt {self.attempt}: {self.prompt_tokens + self.completion_tokens:,} tokens"

    @classmethod
    def open(cls, reply: Message, prompt_tokens: int, user_id: int) -> None:
        """The prompt of `reply`'s current attempt is on its way to the model: its cost counts from now."""
        cls.objects.get_or_create(
            answer_id=reply.pk,
            attempt=reply.attempt,
            defaults={"user_id": user_id, "prompt_tokens": prompt_tokens},
        )

    @classmethod
    def settle(
        cls,
        reply: Message,
        text: str,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """Record what `reply`'s attempt cost once it ended; only an attempt whose prompt was sent costs anything.

        The engine's figures (`prompt_tokens`, `completion_tokens`, or the
        message's own) win; missing ones are the prompt's estimate and `text`
        counted. Settled once: a second call changes nothing.
        """
        prompt = prompt_tokens if prompt_tokens is not None else reply.prompt_tokens
        completion = completion_tokens if completion_tokens is not None else reply.completion_tokens
        fields: dict[str, object] = {
            "settled": True,
            "completion_tokens": completion if completion is not None else count_tokens(text),
            "estimated": completion is None,
        }
        if prompt is not None:
            fields["prompt_tokens"] = prompt
        cls.objects.filter(answer_id=reply.pk, attempt=reply.attempt, settled=False).update(**fields)
