from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("chat", "0003_message_error_code_rejected_draft")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="queued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["status", "queued_at"], name="chat_messag_status_queued_idx"),
        ),
    ]
