import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import chatapp.documents.models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Document',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(blank=True, help_text="Empty: from the file's metadata or first heading.", max_length=300)),
                ('source_path', models.CharField(blank=True, db_index=True, help_text='Where the file came from (imports match on it).', max_length=1000)),
                ('original', models.FileField(max_length=300, upload_to=chatapp.documents.models.original_path)),
                ('original_name', models.CharField(help_text="The file's name as uploaded, made safe.", max_length=255)),
                ('size', models.PositiveBigIntegerField(default=0, help_text='Bytes of the original file.')),
                ('content_hash', models.CharField(db_index=True, help_text='sha256 of the original file.', max_length=64)),
                ('format', models.CharField(choices=[('pdf', 'PDF'), ('docx', 'Word (DOCX)'), ('html', 'HTML'), ('markdown', 'Markdown'), ('text', 'Plain text')], max_length=12)),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('processing', 'Processing'), ('ready', 'Ready'), ('failed', 'Failed')], db_index=True, default='queued', max_length=12)),
                ('published', models.BooleanField(db_index=True, default=True, help_text='Drafts are never used in answers.')),
                ('error', models.TextField(blank=True, help_text='Why processing failed, in words a person understands.')),
                ('parts_done', models.PositiveIntegerField(default=0)),
                ('parts_total', models.PositiveIntegerField(default=0)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('added_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('groups', models.ManyToManyField(blank=True, help_text='Only members of these groups see the document, in answers too; none: everyone.', related_name='documents', to='auth.group')),
            ],
            options={
                'ordering': ['title', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Passage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField(help_text='Order in the document, from 0.')),
                ('heading_path', models.CharField(blank=True, help_text='Headings above it, joined with " › ".', max_length=1000)),
                ('page', models.PositiveIntegerField(blank=True, help_text='Page of a PDF where the passage starts.', null=True)),
                ('anchor', models.SlugField(max_length=120)),
                ('text', models.TextField()),
                ('document', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='passages', to='documents.document')),
            ],
            options={
                'ordering': ['document', 'position'],
                'constraints': [models.UniqueConstraint(fields=('document', 'anchor'), name='documents_passage_unique_anchor'), models.UniqueConstraint(fields=('document', 'position'), name='documents_passage_unique_position')],
            },
        ),
    ]
