"""Hybrid retrieval: entries embedded once, in a task, by the model service's /v1/embeddings.

The embeddings come from the real CPU model service (`inference/`), through HTTP,
and are shared between processes in the real Redis.
"""

import numpy as np
import pytest
from celery.exceptions import Retry

from chatapp.faq.embeddings import Embedder, TextKind
from chatapp.faq.index import top_k
from chatapp.faq.models import FAQEntry
from chatapp.faq.search import current_index, search
from chatapp.faq.tasks import rebuild_index

pytestmark = pytest.mark.usefixtures("sample_faq")

# Words none of the "VPN access" entry's: only the meaning matches.
PARAPHRASE = "I need to reach the company network securely from my house, what should I ask for?"


@pytest.fixture
def embeddings_service(settings, inference_service):
    settings.FAQ_EMBEDDINGS_URL = inference_service
    settings.FAQ_EMBEDDINGS_MODEL = ""
    current_index.clear()
    return inference_service


def test_once_the_task_has_embedded_the_entries_every_search_uses_their_meaning(embeddings_service):
    rebuild_index.apply(throw=True)

    decision = search("How do I get VPN access?")

    assert decision.best.key == "vpn-access"
    assert decision.best.similarity is not None and decision.best.similarity > 0.5
    assert "vpn-access" in search(PARAPHRASE).keys


def test_until_the_embeddings_are_ready_search_is_lexical_and_answers(embeddings_service):
    decision = search("How do I get VPN access?")

    assert decision.best.key == "vpn-access"
    assert decision.best.similarity is None


def test_an_edit_is_served_by_the_previous_index_until_the_new_one_is_ready_but_withdrawals_count_at_once(
    embeddings_service,
):
    rebuild_index.apply(throw=True)
    assert search("How do I get VPN access?").best.similarity is not None

    FAQEntry.objects.get(key="vpn-access").delete()
    decision = search("How do I get VPN access?", k=10)

    assert "vpn-access" not in decision.keys
    assert decision.best.similarity is not None  # still the previous index, with its embeddings


def test_a_failing_endpoint_is_retried_later_instead_of_remembered(settings, embeddings_service):
    settings.FAQ_EMBEDDINGS_URL = "http://127.0.0.1:9/v1"  # nothing listens there
    current_index.clear()

    with pytest.raises(Retry):
        rebuild_index.apply(throw=True)
    assert search("How do I get VPN access?").best.similarity is None

    settings.FAQ_EMBEDDINGS_URL = embeddings_service  # the endpoint is back
    rebuild_index.apply(throw=True)
    assert search("How do I get VPN access?").best.similarity is not None


class Recording(Embedder):
    def __init__(self, **options):
        super().__init__(**options)
        self.requests = []

    @property
    def name(self):
        return "recording"

    def encode_batch(self, texts, timeout=None):
        self.requests.append(list(texts))
        return np.ones((len(texts), 4), dtype="float32")


def test_texts_are_sent_in_batches_the_server_accepts_with_the_models_prefixes():
    embedder = Recording(batch=32, query_prefix="query: ", passage_prefix="passage: ")

    vectors = embedder.embed([f"text {number}" for number in range(70)], TextKind.PASSAGE)
    embedder.embed_query("Where can I park?")

    assert [len(batch) for batch in embedder.requests] == [32, 32, 6, 1]
    assert embedder.requests[0][0] == "passage: text 0"
    assert embedder.requests[-1] == ["query: Where can I park?"]
    assert vectors.shape == (70, 4) and np.allclose(np.linalg.norm(vectors, axis=1), 1)


def test_a_question_asked_again_is_not_embedded_again():
    embedder = Recording()

    embedder.embed_query("Where can I park?")
    embedder.embed_query("Where can I park?")

    assert len(embedder.requests) == 1


def test_a_text_given_twice_is_embedded_once():
    embedder = Recording()

    vectors = embedder.embed(["Handbook › Rest periods", "Handbook › Rest periods", "Handbook › Fares"])

    assert embedder.requests == [["Handbook › Rest periods", "Handbook › Fares"]]
    assert vectors.shape == (3, 4)


def test_a_follow_up_and_its_context_are_embedded_in_one_request():
    embedder = Recording()

    embedder.embed_queries(["and for staging?", "How do I deploy? and for staging?"])
    embedder.embed_query("and for staging?")

    assert embedder.requests == [["and for staging?", "How do I deploy? and for staging?"]]


def test_the_first_sources_are_the_best_ones_and_ties_keep_the_knowledge_base_order():
    scores = np.array([0.2, 0.9, 0.5, 0.9, 0.1, 0.5, 0.5], dtype="float32")

    assert list(top_k(scores, 3)) == [1, 3, 2]
    assert list(top_k(scores, 4)) == [1, 3, 2, 5]
    assert list(top_k(scores, 10)) == [1, 3, 2, 5, 6, 0, 4]
    many = np.random.default_rng(3).random(50_000).round(2).astype("float32")
    assert list(top_k(many, 5)) == list(np.argsort(-many, kind="stable")[:5])
