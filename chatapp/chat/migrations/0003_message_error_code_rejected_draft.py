from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_default_bots")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="error_code",
            field=models.CharField(
                blank=True,
                choices=[
                    ("unavailable", "The model service cannot answer right now"),
                    ("timeout", "The model service stopped responding"),
                    ("engine_error", "The model service failed"),
                    ("cut_off", "The answer took too long and was cut off"),
                    ("worker_lost", "The worker writing the answer stopped"),
                    ("not_started", "No worker started the answer"),
                    ("internal", "Something went wrong"),
                ],
                max_length=24,
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="rejected_draft",
            field=models.TextField(blank=True),
        ),
    ]
