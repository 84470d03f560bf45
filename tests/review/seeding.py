"""Many conversations, fast: what the query-count test and the admin benchmark read.

Conversations are created with bulk_create; their messages, feedback and
reviews with one INSERT ... SELECT each, which the database fills from a
cross join with the numbers 0..n-1 instead of 200,000 Python objects.
Figures vary with the ids (modulo arithmetic), so every filter finds rows.
"""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from chatapp.chat.models import Conversation, Message
from chatapp.review.models import ConversationReview, Feedback

TOPICS = ["deploying", "the VPN", "expense reports", "Kubernetes", "the build", "holidays", "the wiki", "SSO"]


def numbers(count):
    return " UNION ALL ".join(f"SELECT {n} AS n" for n in range(count))


def empty_json_list():
    # A bare string literal in a SELECT list is text, which PostgreSQL will not put in a jsonb column.
    return "CAST('[]' AS jsonb)" if connection.vendor == "postgresql" else "'[]'"


def seed_conversations(conversations=10_000, messages_per_conversation=20, users=100, seed=7):
    """Returns the seeded conversations' (first id, last id); they span the last 60 days."""
    rng = random.Random(seed)
    User = get_user_model()
    owners = User.objects.bulk_create([User(username=f"seeded-{n}", password="!") for n in range(users)])
    now = timezone.now()
    rows = []
    for n in range(conversations):
        started = now - timedelta(days=rng.uniform(0, 60))
        rows.append(
            Conversation(
                owner=rng.choice(owners),
                title=f"Question {n} about {rng.choice(TOPICS)}",
                source=Conversation.Source.API if n % 5 == 0 else Conversation.Source.WEB,
                created_at=started,
                updated_at=started + timedelta(minutes=10),
            )
        )
    created = Conversation.objects.bulk_create(rows, batch_size=2000)
    first, last = created[0].pk, created[-1].pk
    message, conversation = Message._meta.db_table, Conversation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {message} (conversation_id, role, content, status, error, model, seq, attempt,
                prompt_tokens, completion_tokens, time_to_first_token, duration, sources,
                error_code, rejected_draft, from_client, finish_reason, created_at, started_at, finished_at)
            SELECT c.id,
                CASE WHEN n.n %% 2 = 0 THEN 'user' ELSE 'assistant' END,
                CASE WHEN n.n %% 2 = 0 THEN 'How do I fix the build? Attempt ' || n.n
                     WHEN (c.id + n.n) %% 50 = 0 THEN ''
                     ELSE 'Try restarting it; then **check the logs**.' END,
                CASE WHEN n.n %% 2 = 1 AND (c.id + n.n) %% 50 = 0 THEN 'error' ELSE 'done' END,
                CASE WHEN n.n %% 2 = 1 AND (c.id + n.n) %% 50 = 0 THEN 'The model did not answer in time.' ELSE '' END,
                CASE WHEN n.n %% 2 = 0 THEN '' WHEN c.id %% 3 = 0 THEN 'smollm2-135m' ELSE 'ministral-3-3b' END,
                0, 1,
                CASE WHEN n.n %% 2 = 1 THEN 20 + (c.id * 7 + n.n) %% 900 END,
                CASE WHEN n.n %% 2 = 1 THEN 10 + (c.id * 13 + n.n) %% 400 END,
                CASE WHEN n.n %% 2 = 1 THEN 0.1 + ((c.id * 31 + n.n * 17) %% 100) / 100.0 END,
                CASE WHEN n.n %% 2 = 1 THEN 1.5 + ((c.id * 11 + n.n * 3) %% 500) / 100.0 END,
                {empty_json_list()},
                '', '', FALSE, '', c.created_at, c.created_at, c.updated_at
            FROM {conversation} c CROSS JOIN ({numbers(messages_per_conversation)}) n
            WHERE c.id BETWEEN %s AND %s
            ORDER BY c.id, n.n
            """,
            [first, last],
        )
        # Fresh statistics: planned on "empty" tables, the join below runs for minutes.
        cursor.execute(f"ANALYZE {conversation}")
        cursor.execute(f"ANALYZE {message}")
        cursor.execute(
            f"""
            INSERT INTO {Feedback._meta.db_table} (message_id, user_id, vote, comment, created_at, updated_at)
            SELECT m.id, c.owner_id,
                CASE WHEN m.id %% 5 < 2 THEN 'down' ELSE 'up' END,
                CASE WHEN m.id %% 3 = 0 THEN 'Not what I asked.' ELSE '' END,
                m.finished_at, m.finished_at
            FROM {message} m JOIN {conversation} c ON c.id = m.conversation_id
            WHERE c.id BETWEEN %s AND %s AND m.role = 'assistant' AND m.status = 'done' AND m.id %% 20 = 1
            """,
            [first, last],
        )
        cursor.execute(
            f"""
            INSERT INTO {ConversationReview._meta.db_table} (conversation_id, status, notes)
            SELECT c.id, CASE c.id %% 3 WHEN 0 THEN 'approved' WHEN 1 THEN 'needs_fix' ELSE 'unreviewed' END, ''
            FROM {conversation} c WHERE c.id BETWEEN %s AND %s AND c.id %% 10 = 0
            """,
            [first, last],
        )
        cursor.execute(f"ANALYZE {Feedback._meta.db_table}")
        cursor.execute(f"ANALYZE {ConversationReview._meta.db_table}")
    return first, last
