from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("faq", "0005_confirmations"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="faqentry",
            options={
                "ordering": ["question"],
                "permissions": [("publish_faqentry", "Can publish and withdraw FAQ entries")],
                "verbose_name": "FAQ entry",
                "verbose_name_plural": "FAQ entries",
            },
        ),
    ]
