import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

DATA = Path(__file__).resolve().parents[2] / "chatapp" / "faq" / "data"
TARGETS = ["--min-found", "0.93", "--max-wrong", "0.05", "--max-answered-anyway", "0.15"]


@pytest.mark.usefixtures("sample_faq")
def test_the_shipped_evaluation_meets_its_targets():
    out = io.StringIO()
    call_command("faq_eval", "--min-recall-at-3", "0.95", *TARGETS, stdout=out)

    report = out.getvalue()
    assert "145 questions (123 answerable, 22 not)" in report
    for figure in (
        "recall@1",
        "MRR",
        "answered right",
        "answered wrong",
        "unsure, listed",
        "wrongly declined",
        "answered anyway",
    ):
        assert figure in report
    assert "decision fitted on" in report
    assert "All thresholds met." in report


def test_another_knowledge_base_is_evaluated_from_its_file_without_touching_the_database(db):
    out = io.StringIO()

    call_command("faq_eval", str(DATA / "lab_eval.jsonl"), "--knowledge-base", str(DATA / "lab_faq.md"), stdout=out)

    assert "158 questions (128 answerable, 30 not), 46 entries" in out.getvalue()
    from chatapp.faq.models import FAQEntry

    assert not FAQEntry.objects.exists()


@pytest.mark.usefixtures("sample_faq")
def test_a_result_below_a_threshold_fails_the_command():
    with pytest.raises(CommandError, match="Thresholds missed: recall@1"):
        call_command("faq_eval", "--min-recall-at-1", "1.01", stdout=io.StringIO())


@pytest.mark.usefixtures("sample_faq")
def test_questions_about_unknown_keys_are_pointed_out(tmp_path):
    path = tmp_path / "eval.jsonl"
    lines = [
        {"question": "How do I get VPN access?", "expected": ["vpn-access"]},
        {"question": "Tea?", "expected": ["no-such-entry"]},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    out = io.StringIO()

    call_command("faq_eval", str(path), stdout=out)

    assert 'Expected sources not in the knowledge base: "no-such-entry"' in out.getvalue()
    assert "recall@1 0.500" in out.getvalue()


@pytest.mark.usefixtures("sample_faq")
def test_a_malformed_file_is_reported_with_its_line(tmp_path):
    path = tmp_path / "eval.jsonl"
    path.write_text('{"question": "ok", "expected": []}\n{"question": "no list"}\n')

    with pytest.raises(CommandError, match="line 2"):
        call_command("faq_eval", str(path), stdout=io.StringIO())


def test_a_folder_of_documents_is_evaluated_in_memory_with_one_json_line_per_question(tmp_path, db):
    from chatapp.faq.models import FAQEntry

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "handbook.md").write_text(
        "# Driver handbook\n\n## Rest periods\n\nBetween two normal duties the minimum rest is 11 hours.\n\n"
        "## Uniform\n\nDrivers wear the navy jacket with the company badge on duty.\n",
        encoding="utf-8",
    )
    questions = tmp_path / "eval.jsonl"
    questions.write_text(
        json.dumps(
            {
                "question": "How long must I rest between duties?",
                "expected": [{"doc": "handbook.md", "section": "Rest periods"}],
            }
        )
        + "\n"
        + json.dumps({"question": "What is the capital of Australia?", "expected": []})
        + "\n",
        encoding="utf-8",
    )
    lines = tmp_path / "outcomes.jsonl"
    out = io.StringIO()

    call_command(
        "faq_eval", str(questions), "--documents", str(folder), "--embeddings", "none", "--json", str(lines), stdout=out
    )

    report = out.getvalue()
    assert "0 entries, 2 passages" in report
    assert "documents" in report and "md" in report
    first, second = (json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines())
    assert first["question"] == "How long must I rest between duties?"
    assert first["sources"][0] == {"kind": "passage", "doc": "handbook.md", "section": "Rest periods", "page": None}
    assert first["outcome"] in ("answer", "unsure")
    assert second["outcome"] in ("unsure", "not_covered")
    assert not FAQEntry.objects.exists()
