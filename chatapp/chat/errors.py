"""Refusals with a reason fit to show to the user (shared by actions and quotas)."""


class ChatError(Exception):
    """A request that cannot be done, with a reason fit to show to the user."""

    # Extra fields for the client (an error frame, an API error): see quotas.LimitReached.
    details: dict = {}


class NotFound(ChatError):
    def __init__(self, what: str = "conversation") -> None:
        super().__init__(f"No such {what}.")
