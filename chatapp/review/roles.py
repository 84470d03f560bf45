"""The Reviewer role: the group whose members review conversations in the admin."""

from django.contrib.auth.models import Group, Permission

REVIEWER_GROUP = "Reviewer"
# Kept in step with migration 0002, which created the group with this list
# (a migration keeps its own frozen copy).
REVIEWER_PERMISSIONS = [
    ("chat", "view_conversation"),
    ("chat", "view_message"),
    ("review", "view_feedback"),
    ("review", "view_metrics"),
    ("review", "view_conversationreview"),
    ("review", "change_conversationreview"),
    ("review", "export_conversations"),
    ("review", "promote_to_faq"),
]


def reviewer_group() -> Group:
    """The Reviewer group with its permissions, made again if it was removed."""
    group, created = Group.objects.get_or_create(name=REVIEWER_GROUP)
    if created:
        for app_label, codename in REVIEWER_PERMISSIONS:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group
