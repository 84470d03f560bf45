"""The Reviewer role: the group whose members review conversations in the admin.

Its members read every conversation, give verdicts, export, promote answers
to FAQ drafts, edit drafts, handle unanswered questions and publish entries.
Publishing is its own permission ("Can publish and withdraw FAQ entries"):
take it from the group in the admin to have drafts published by someone else.
"""

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
    # The FAQ loop: drafts read, written and published, unanswered questions handled.
    ("faq", "view_faqentry"),
    ("faq", "add_faqentry"),
    ("faq", "change_faqentry"),
    ("faq", "publish_faqentry"),
    ("faq", "view_unansweredquestion"),
    ("faq", "change_unansweredquestion"),
]


def reviewer_group() -> Group:
    """The Reviewer group with its permissions, made again if it was removed."""
    group, created = Group.objects.get_or_create(name=REVIEWER_GROUP)
    if created:
        for app_label, codename in REVIEWER_PERMISSIONS:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group
