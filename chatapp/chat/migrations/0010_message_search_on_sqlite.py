from django.db import migrations

# Full-text search of message text on SQLite (chatapp.chat.search): an FTS5
# index kept in step with chat_message by triggers. Words match anywhere and
# in any order, by their English stem ("salaries" finds "salary").
# PostgreSQL has its own index (migration 0008).
STATEMENTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS chat_message_fts USING fts5("
    "content, content='chat_message', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS chat_message_fts_insert AFTER INSERT ON chat_message BEGIN "
    "INSERT INTO chat_message_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER IF NOT EXISTS chat_message_fts_delete AFTER DELETE ON chat_message BEGIN "
    "INSERT INTO chat_message_fts(chat_message_fts, rowid, content) VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER IF NOT EXISTS chat_message_fts_update AFTER UPDATE OF content ON chat_message BEGIN "
    "INSERT INTO chat_message_fts(chat_message_fts, rowid, content) VALUES ('delete', old.id, old.content); "
    "INSERT INTO chat_message_fts(rowid, content) VALUES (new.id, new.content); END",
    "INSERT INTO chat_message_fts(chat_message_fts) VALUES ('rebuild')",
]
DROP = [
    "DROP TRIGGER IF EXISTS chat_message_fts_insert",
    "DROP TRIGGER IF EXISTS chat_message_fts_delete",
    "DROP TRIGGER IF EXISTS chat_message_fts_update",
    "DROP TABLE IF EXISTS chat_message_fts",
]


def add_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in STATEMENTS:
            schema_editor.execute(statement)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0009_bots_inherit_deployment_sampling_finish_reason"),
    ]

    operations = [migrations.RunPython(add_search_index, drop_search_index)]
