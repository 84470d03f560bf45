"""Search on the default SQLite database finds words anywhere, in any order, by their stem."""

import json
import os
import subprocess
import sys

from tests.support.processes import ROOT

SCRIPT = """
import json
from django.contrib.auth.models import User
from chatapp.chat.models import Conversation, Message
from chatapp.chat.search import search

alice = User.objects.create_user("alice")
bob = User.objects.create_user("bob")
chat = Conversation.objects.create(owner=alice, title="Pay review")
Message.objects.append(conversation=chat, role="user", content="Here is a CSV of our salaries by team.")
reply = Message.objects.append(conversation=chat, role="assistant", content="Thinking")
reply.content = "The salary column is in euros."
reply.save()
other = Conversation.objects.create(owner=bob, title="Bob's")
Message.objects.append(conversation=other, role="user", content="csv salaries of bob")
found = {query: [[str(hit.passage) for hit in result.hits] for result in search(alice, query)]
         for query in ["csv salaries", "salaries csv", "salary", "euros column", "csv lunch", "\\"NEAR("]}
print(json.dumps(found))
"""


def test_sqlite_search_matches_every_word_anywhere_and_only_the_users_own(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}",
        "DATA_DIR": str(tmp_path),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, timeout=300)
    output = subprocess.run(
        [*manage, "shell", "-c", SCRIPT], env=env, check=True, timeout=120, capture_output=True, text=True
    ).stdout
    found = json.loads(output.strip().splitlines()[-1])
    assert found["csv salaries"] == [["Here is a <mark>CSV</mark> of our <mark>salaries</mark> by team."]]
    assert found["salaries csv"] == found["csv salaries"]
    assert len(found["salary"][0]) == 2  # "salaries" and "salary": one stem
    assert "<mark>euros</mark>" in found["euros column"][0][0]  # the edited text is indexed
    assert found["csv lunch"] == [] and found['"NEAR('] == []
