import io
import json

import pytest
from django.core.management import CommandError, call_command

from chatapp.faq import formats
from chatapp.faq.actions import import_text
from chatapp.faq.models import FAQEntry

pytestmark = pytest.mark.django_db


def snapshot():
    return sorted((e.key, e.question, e.answer, e.phrasings, e.tags, e.status) for e in FAQEntry.objects.all())


@pytest.mark.parametrize("file_format", formats.FORMATS)
def test_exported_entries_import_back_identical(sample_faq, tmp_path, file_format):
    FAQEntry.objects.filter(key="payroll").update(status=FAQEntry.Status.DRAFT)
    # "##" starts an entry in Markdown files, except inside code; answers use "###" and deeper.
    answer = "Run:\n\n```\n## not a heading: code\n/deploy rollback production\n```\n\n### Then\n\nRevert the commit."
    FAQEntry.objects.filter(key="rollback").update(answer=answer)
    before = snapshot()
    path = tmp_path / f"faq.{file_format}"
    call_command("faq_export", "--format", file_format, "--output", str(path), stderr=io.StringIO())
    FAQEntry.objects.all().delete()

    out = io.StringIO()
    call_command("faq_import", str(path), stdout=out)

    assert f"{len(before)} created, 0 updated, 0 unchanged" in out.getvalue()
    assert snapshot() == before


@pytest.mark.parametrize("file_format", formats.FORMATS)
def test_importing_the_same_file_twice_changes_nothing(sample_faq, file_format):
    text = formats.write(FAQEntry.objects.all(), file_format)
    stamps = dict(FAQEntry.objects.values_list("key", "updated_at"))

    report = import_text(text, file_format)

    assert (report.created, report.updated, report.errors) == (0, 0, [])
    assert report.unchanged == len(stamps)
    assert dict(FAQEntry.objects.values_list("key", "updated_at")) == stamps


def test_a_row_with_a_known_key_updates_that_entry(sample_faq):
    report = import_text('[{"key": "payroll", "question": "When is payday?", "answer": "On the 28th."}]', "json")

    assert (report.created, report.updated) == (0, 1)
    entry = FAQEntry.objects.get(key="payroll")
    assert entry.answer == "On the 28th."
    assert entry.status == FAQEntry.Status.PUBLISHED
    assert FAQEntry.objects.filter(question="When is payday?").count() == 1


def test_rows_without_a_key_are_matched_by_their_question_on_reimport(db):
    text = "question,answer\nHow do I order pizza?,Ask the office manager.\n"

    first, second = import_text(text, "csv"), import_text(text, "csv")

    assert (first.created, second.created, second.unchanged) == (1, 0, 1)
    assert FAQEntry.objects.get().key == "how-do-i-order-pizza"


def test_bad_csv_rows_are_reported_by_line_and_the_good_ones_imported(db):
    text = (
        "key,question,answer,status\n"
        "good-one,How do I get a badge?,Ask reception.,published\n"
        "no-question,,An answer without a question.,published\n"
        "bad key!,What now?,Something.,published\n"
        "good-one,Same key again?,Twice.,draft\n"
        "good-two,How do I get a locker?,Ask reception too.,draft\n"
    )

    report = import_text(text, "csv")

    assert (report.created, report.updated) == (2, 0)
    assert sorted(FAQEntry.objects.values_list("key", "status")) == [("good-one", "published"), ("good-two", "draft")]
    errors = dict(report.errors)
    assert errors["line 3"] == "the question is empty"
    assert errors["line 4"].startswith("key: Enter a valid “slug”")
    assert errors["line 5"] == "key 'good-one' appears twice (also at line 2)"


def test_a_bad_status_is_named_in_the_error(db):
    report = import_text('[{"question": "Q?", "answer": "A.", "status": "archived"}, {"question": "R?"}]', "json")

    assert report.errors == [
        ("entry 1", "status must be one of draft, published, not 'archived'"),
        ("entry 2", "the answer is empty"),
    ]
    assert not FAQEntry.objects.exists()


def test_markdown_sections_become_entries_with_their_fields(db):
    text = (
        "# Our FAQ\n\nIntro text is ignored.\n\n"
        "## How do I get a badge?\nKey: badge\nTags: office, access\nAlso asked: Lost my badge | Visitor badge\n\n"
        "Ask **reception**.\n\n### Details\nA sub-heading stays in the answer.\n\n"
        "## Where is the wiki?\n\nAt `wiki.internal`.\n"
    )

    report = import_text(text, "md")

    assert report.created == 2 and not report.errors
    badge = FAQEntry.objects.get(key="badge")
    assert badge.tag_list == ["office", "access"]
    assert badge.phrasing_list == ["Lost my badge", "Visitor badge"]
    assert badge.answer == "Ask **reception**.\n\n### Details\nA sub-heading stays in the answer."
    assert FAQEntry.objects.get(key="where-is-the-wiki").answer == "At `wiki.internal`."


def test_invalid_json_is_one_clear_error(db):
    report = import_text("[{", "json")

    assert report.errors[0][0] == "file" and "not valid JSON" in report.errors[0][1]


def test_the_import_command_fails_when_no_row_could_be_imported(tmp_path, db):
    path = tmp_path / "faq.json"
    path.write_text(json.dumps([{"question": "No answer?"}]))
    err = io.StringIO()

    with pytest.raises(CommandError, match="No entry could be imported"):
        call_command("faq_import", str(path), stdout=io.StringIO(), stderr=err)
    assert "faq.json, entry 1: the answer is empty" in err.getvalue()


def test_the_sample_is_loaded_only_into_an_empty_knowledge_base(db):
    out = io.StringIO()
    call_command("load_sample_faq", "--if-empty", stdout=out)
    call_command("load_sample_faq", "--if-empty", stdout=out)

    assert FAQEntry.objects.published().count() == 58
    assert "the sample was not loaded" in out.getvalue()
