"""Who may see a row that can be limited to groups: one rule for bots, FAQ entries and documents.

A model with a `groups` many-to-many to `auth.Group` is seen by everyone
while it names no group, and only by members of one of them once it names
some. Superusers see every row; an anonymous or deactivated account sees
none. Features take the rule from here (the core), as their querysets'
base class, so the bots a person may talk to and the knowledge they may be
answered from can never disagree on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self, TypeVar

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

_Model = TypeVar("_Model", bound=models.Model)


class GroupLimitedQuerySet(models.QuerySet[_Model]):
    def visible_to(self, user: User | AnonymousUser) -> Self:
        """The rows `user` may see: those limited to no group, and those limited to one of theirs."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        relation = self.model._meta.get_field("groups")
        assert isinstance(relation, models.ManyToManyField), f"{self.model.__name__}.groups is not a many-to-many"
        through = relation.remote_field.through
        assert through is not None  # set once the models are loaded
        limits = through._default_manager.filter(**{relation.m2m_field_name(): models.OuterRef("pk")})
        return self.filter(
            ~models.Exists(limits)
            | models.Exists(limits.filter(**{f"{relation.m2m_reverse_field_name()}__user": user}))
        )
