"""Reviewers see the passages a document answer used, and those listed for an unanswered question."""

import pytest
from django.template.loader import render_to_string

from chatapp.faq.models import UnansweredQuestion
from tests.support.accounts import signed_in
from tests.support.documents import ready_document

pytestmark = pytest.mark.django_db


def passage_source(passage, number=1, cited=True):
    """A passage as an answer's sources keep it."""
    return {
        "number": number,
        "kind": "passage",
        "id": -passage.pk,
        "key": f"{passage.document.original_name}#-{passage.pk}",
        "question": passage.citation_label,
        "url": passage.get_absolute_url(),
        "score": 3.2,
        "cited": cited,
        "use": "answer",
    }


def test_reviewers_see_the_passage_an_answer_used_with_a_link_to_it():
    passage = ready_document().passages.get()

    html = render_to_string("faq/retrieved_sources.html", {"items": [passage_source(passage)]})

    assert f'<a href="{passage.get_absolute_url()}">Driver handbook › Rest periods (p. 12)</a>' in html


def test_an_unanswered_question_lists_the_passages_it_came_close_to(admin):
    passage = ready_document().passages.get()
    question = UnansweredQuestion.objects.create(
        question="How long off between shifts?",
        outcome=UnansweredQuestion.Outcome.UNSURE,
        candidates=[
            {
                "id": -passage.pk,
                "key": f"handbook.pdf#-{passage.pk}",
                "question": passage.citation_label,
                "score": 1.1,
                "kind": "passage",
                "url": passage.get_absolute_url(),
            }
        ],
    )

    page = signed_in(admin).get(f"/admin/faq/unansweredquestion/{question.pk}/change/").content.decode()

    assert passage.get_absolute_url().replace("&", "&amp;") in page
    assert "Driver handbook › Rest periods (p. 12)" in page
