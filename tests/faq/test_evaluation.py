import io
import json

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.usefixtures("sample_faq")


def test_the_shipped_evaluation_meets_its_targets():
    out = io.StringIO()
    call_command("faq_eval", "--min-recall-at-3", "0.9", "--min-not-covered", "0.8", stdout=out)

    report = out.getvalue()
    assert "131 questions (111 answerable, 20 not)" in report
    for figure in ("recall@1", "recall@3", "MRR", "not covered"):
        assert figure in report
    assert "All thresholds met." in report


def test_a_result_below_a_threshold_fails_the_command():
    with pytest.raises(CommandError, match="Below threshold: recall@1"):
        call_command("faq_eval", "--min-recall-at-1", "1.01", stdout=io.StringIO())


def test_questions_about_unknown_keys_are_pointed_out(tmp_path):
    path = tmp_path / "eval.jsonl"
    lines = [{"question": "How do I get VPN access?", "expected": ["vpn-access"]}, {"question": "Tea?", "expected": ["no-such-entry"]}]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    out = io.StringIO()

    call_command("faq_eval", str(path), stdout=out)

    assert "Expected keys not among the published entries: no-such-entry" in out.getvalue()
    assert "recall@1     0.500" in out.getvalue()


def test_a_malformed_file_is_reported_with_its_line(tmp_path):
    path = tmp_path / "eval.jsonl"
    path.write_text('{"question": "ok", "expected": []}\n{"question": "no list"}\n')

    with pytest.raises(CommandError, match="line 2"):
        call_command("faq_eval", str(path), stdout=io.StringIO())
