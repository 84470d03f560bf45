"""99 long questions through the API cost the admin's unanswered-questions page little.

As found: a dense TF-IDF over every open question took 51 s of web CPU per view.
"""

import random
import time
from types import SimpleNamespace

from chatapp.faq.grouping import group_similar


def question(pk, text):
    return SimpleNamespace(pk=pk, question=text, asked_by_id=pk, candidates=[])


def test_99_questions_of_20000_characters_are_grouped_quickly_and_alike_ones_together():
    rng = random.Random(7)
    words = [f"w{rng.randrange(10**6)}" for _ in range(40_000)]
    flood = [question(n, " ".join(rng.choice(words) for _ in range(2500))[:20_000]) for n in range(99)]
    alike = [
        question(1001, "How do I submit my expense report?"),
        question(1002, "How to submit an expense report"),
    ]
    started = time.process_time()
    groups = group_similar(flood + alike)
    spent = time.process_time() - started
    print(f"\n101 open questions, 99 of 20,000 characters: grouped in {spent:.2f} s of CPU")
    together = [group for group in groups if {1001, 1002} <= set(group.ids)]
    assert len(together) == 1
    assert sum(group.count for group in groups) == 101
