from django.contrib.auth.management import create_permissions
from django.db import migrations

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


def create_reviewer_group(apps, schema_editor):
    # Permissions are normally created after all migrations ran; the group
    # needs them now.
    for label in ("chat", "review"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _created = Group.objects.get_or_create(name="Reviewer")
    for app_label, codename in REVIEWER_PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_reviewer_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Reviewer").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_reviewer_group, remove_reviewer_group)]
