from django.db import migrations

DEFAULT_BOTS = [
    {
        "name": "Assistant",
        "slug": "assistant",
        "description": "General help: questions, writing, code, images.",
        "system_prompt": "",
        "uses_knowledge_base": False,
        "is_default": True,
        "position": 0,
    },
    {
        "name": "Team FAQ",
        "slug": "team-faq",
        "description": "Answers from the team's knowledge base, with sources.",
        "system_prompt": "You answer questions about how our team works, only from the knowledge base entries given to you.",
        "uses_knowledge_base": True,
        "temperature": 0.0,
        "is_default": False,
        "position": 1,
    },
]


def create_default_bots(apps, schema_editor):
    Bot = apps.get_model("chat", "Bot")
    for fields in DEFAULT_BOTS:
        Bot.objects.get_or_create(slug=fields["slug"], defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial")]

    operations = [migrations.RunPython(create_default_bots, migrations.RunPython.noop)]
