"""Team FAQ: what retrieval and the coverage decision add to each question, at 1,000 entries.

In memory (no database). Indexes the shipped sample knowledge base (58
entries) and the same grown to 1,000 entries (the sample plus generated
entries built from its sentences and words of their own), then times, per
question of the shipped evaluation file:

- retrieval alone (the ranking: BM25 words + trigrams, synonyms, typos);
- retrieval plus the decision (features, two logistic models, the follow-up
  search when a question leans on the one before), the baseline being the
  first line in the same run.

The same again with embeddings (hybrid retrieval): the CPU embeddings model in
process, every entry embedded when the index is built, and each question
embedded anew while it is timed (no cache).

Target: retrieval plus decision, query embedding included, under 50 ms p95 per
question at 1,000 entries.

With --generation N it also asks the CPU model N entries' own questions with
the entries in its prompt: how long a generated answer takes, whether it
cites [1], how much of the entry's wording it keeps.

    python -m benchmarks.faq [--entries 1000] [--generation [N]]
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

import httpx
from django.conf import settings

from chatapp.faq import formats
from chatapp.faq.analysis import Analyzer, words
from chatapp.faq.decision import calibrate, decide
from chatapp.faq.embeddings import LocalEmbedder
from chatapp.faq.evaluation import read_cases
from chatapp.faq.groundedness import cited_numbers
from chatapp.faq.grounding import entries_prompt
from chatapp.faq.index import Document, SearchIndex

DATA = Path(__file__).resolve().parent.parent / "chatapp" / "faq" / "data"
ROOT = Path(__file__).resolve().parent.parent


def sample_documents():
    text = (DATA / "sample_faq.md").read_text(encoding="utf-8")
    rows = [row for _, row in formats.read_markdown(text)]
    return [
        Document(number, row["key"], row["question"], row["answer"], row.get("phrasings", []), row.get("tags", []))
        for number, row in enumerate(rows, 1)
    ]


def grown(documents, count, seed=7):
    """`documents` plus generated entries up to `count`: sentences of the real answers, words of their own."""
    chance = random.Random(seed)
    sentences = [sentence for document in documents for sentence in document.answer.split(". ") if sentence]
    questions = [line for document in documents for line in document.title_lines]
    syllables = ["ka", "lo", "mir", "ten", "dus", "vel", "ra", "sim", "bor", "que", "zan", "pel"]
    result = list(documents)
    for number in range(len(documents) + 1, count + 1):
        topic = "".join(chance.choice(syllables) for _ in range(3))
        other = "".join(chance.choice(syllables) for _ in range(3))
        question = f"{chance.choice(questions).rstrip('?')} for {topic} {other}?"
        answer = ". ".join(chance.sample(sentences, 3)) + f". Ask the {topic} team about {other}."
        result.append(Document(number, f"generated-{number}", question, answer, [f"{topic} {other}"], [topic]))
    return result


def milliseconds(values):
    values = sorted(values)
    return (
        f"median {statistics.median(values) * 1000:6.2f} ms, p95 {values[int(len(values) * 0.95) - 1] * 1000:6.2f} ms, "
        f"max {values[-1] * 1000:6.2f} ms"
    )


def timed(function, cases, rounds=3):
    """Per question, the best of `rounds` runs (the machine is shared: the minimum is the cost)."""
    best = []
    for case in cases:
        runs = []
        for _ in range(rounds):
            started = time.perf_counter()
            function(case)
            runs.append(time.perf_counter() - started)
        best.append(min(runs))
    return best


def measure(label, documents, cases, embedder=None):
    started = time.perf_counter()
    index = SearchIndex(documents, embedder=embedder)
    built = time.perf_counter() - started
    index.calibration = calibrate(index)
    k = settings.FAQ_TOP_K

    def fresh(function):
        # Every question embedded anew: a cached question would hide the embedding's cost.
        def run(case):
            if embedder is not None:
                embedder._cache.clear()
            return function(case)

        return run

    for case in cases[:10]:  # warm-up: caches of the stemmers and the analyzer, the model's weights
        decide(index, case.question, context=case.context, k=k)
    retrieval = timed(fresh(lambda case: index.search(case.question, k=k)), cases)
    decision = timed(fresh(lambda case: decide(index, case.question, context=case.context, k=k)), cases)
    kind = "hybrid: lexical + embeddings, each question embedded" if embedder else "lexical"
    print(f"\n-- {label}: {len(documents)} entries, {kind}")
    print(f"index build {built:.1f} s ({index.calibration.describe()})")
    print(f"retrieval alone          {milliseconds(retrieval)}")
    print(f"retrieval plus decision  {milliseconds(decision)}")
    ratio = statistics.median(decision) / statistics.median(retrieval)
    print(f"decision costs {ratio:.2f}× retrieval alone (median); target: p95 under 50 ms per question")
    return statistics.median(decision)


def start_model_service():
    port = 8700 + os.getpid() % 200
    process = subprocess.Popen(
        [sys.executable, "-m", "inference", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the model service did not start")


def overlap(answer, reference):
    """Share of the entry's content words that the answer repeats."""
    analyzer = Analyzer(use_synonyms=False)
    expected = set(analyzer.terms(reference))
    return len(expected & set(words(answer))) / len(expected) if expected else 0.0


def generation_figures(documents, count):
    print(f"\n-- grounded generation on the entries' own questions ({settings.INFERENCE_MODEL}, CPU)", flush=True)
    process, url = start_model_service()
    index = SearchIndex(documents)
    rows = []
    try:
        with httpx.Client(timeout=600) as client:
            for document in documents[:count]:
                hits = decide(index, document.question).hits
                system = entries_prompt(settings.SYSTEM_PROMPT, hits)
                started = time.perf_counter()
                response = client.post(
                    f"{url}/chat/completions",
                    json={
                        "model": settings.INFERENCE_MODEL,
                        "messages": [
                            {"role": "system", "content": system},
                            {"role": "user", "content": document.question},
                        ],
                        "max_tokens": 256,
                        "temperature": 0.0,
                    },
                )
                seconds = time.perf_counter() - started
                answer = response.json()["choices"][0]["message"]["content"]
                row = (seconds, 1 in cited_numbers(answer), overlap(answer, document.answer), document.question)
                rows.append(row)
                print(
                    f"  {row[0]:6.2f} s  cites [1]: {'yes' if row[1] else 'no ':<3}  keeps {row[2]:4.0%} of the entry's words  {row[3]}",
                    flush=True,
                )
    finally:
        process.terminate()
        process.wait(10)
    print(
        f"model: median {statistics.median(r[0] for r in rows):.2f} s per answer, cites [1] in "
        f"{sum(r[1] for r in rows)}/{len(rows)}, keeps {statistics.mean(r[2] for r in rows):.0%} of the entry's words"
    )
    print("quote mode (the entry's own text): 0 s of generation, always cited, keeps 100% of its words")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000, help="Size of the grown knowledge base.")
    parser.add_argument(
        "--generation", nargs="?", const=10, type=int, metavar="N", help="Also ask the CPU model N questions."
    )
    parser.add_argument(
        "--lexical-only", action="store_true", help="Skip the hybrid runs (they embed every entry: about a minute)."
    )
    options = parser.parse_args()

    documents = sample_documents()
    cases = read_cases((DATA / "sample_eval.jsonl").read_text(encoding="utf-8").splitlines())
    print(
        f"{len(cases)} questions of the shipped evaluation file, {sum(bool(c.context) for c in cases)} of them follow-ups"
    )
    small = measure("the shipped sample", documents, cases)
    large = measure("grown", grown(documents, options.entries), cases)
    print(f"\n{options.entries} entries against {len(documents)}: {large / small:.2f}× the time per question (median)")
    if not options.lexical_only:
        embedder = LocalEmbedder()
        hybrid_small = measure("the shipped sample", documents, cases, embedder)
        hybrid_large = measure("grown", grown(documents, options.entries), cases, embedder)
        print(
            f"\nhybrid against lexical, same run (median per question): {hybrid_small / small:.2f}× at "
            f"{len(documents)} entries, {hybrid_large / large:.2f}× at {options.entries}"
        )
    if options.generation:
        generation_figures(documents, options.generation)


if __name__ == "__main__":
    main()
