from django.contrib.auth.management import create_permissions
from django.db import migrations

# The FAQ loop, added to the Reviewer group (a frozen copy of chatapp.review.roles).
FAQ_PERMISSIONS = [
    "view_faqentry",
    "add_faqentry",
    "change_faqentry",
    "publish_faqentry",
    "view_unansweredquestion",
    "change_unansweredquestion",
]


def add_faq_permissions(apps, schema_editor):
    # Permissions are normally created after all migrations ran; the group needs them now.
    app_config = apps.get_app_config("faq")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Reviewer").first()
    if group is None:
        return
    for codename in FAQ_PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label="faq", codename=codename))


def remove_faq_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Reviewer"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="faq", codename__in=FAQ_PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0002_reviewer_group"),
        ("faq", "0006_faqentry_publish_permission"),
    ]

    operations = [migrations.RunPython(add_faq_permissions, remove_faq_permissions)]
