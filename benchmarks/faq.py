"""Team FAQ retrieval: quality and the latency it adds to each question.

Runs the shipped evaluation file against the shipped sample knowledge base,
in memory (no database): lexical ranking with and without the synonym list,
and hybrid ranking too when FAQ_EMBEDDINGS_URL points at an OpenAI-compatible
/v1/embeddings. Prints each question's retrieval time, then a summary.

With --generation it also measures the near-exact shortcut: for questions that
are an entry's own question, the CPU model's grounded answer (time, whether it
cites [1], how much of the entry's wording it keeps) against answering with
the entry's text directly.

    python -m benchmarks.faq [--quiet] [--generation [N]]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402

from chatapp.faq import formats  # noqa: E402
from chatapp.faq.analysis import Analyzer, words  # noqa: E402
from chatapp.faq.embeddings import configured_embedder  # noqa: E402
from chatapp.faq.evaluation import evaluate, read_cases  # noqa: E402
from chatapp.faq.grounding import cited_numbers, entries_prompt  # noqa: E402
from chatapp.faq.search import Document, SearchIndex, near_exact  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "chatapp" / "faq" / "data"
ROOT = Path(__file__).resolve().parent.parent


def sample_documents():
    text = (DATA / "sample_faq.md").read_text(encoding="utf-8")
    rows = [row for _, row in formats.read_markdown(text)]
    return [
        Document(number, row["key"], row["question"], row["answer"], row.get("phrasings", []), row.get("tags", []))
        for number, row in enumerate(rows, 1)
    ]


def milliseconds(values):
    values = sorted(values)
    return (
        f"median {statistics.median(values) * 1000:.2f} ms, "
        f"p95 {values[int(len(values) * 0.95) - 1] * 1000:.2f} ms, max {values[-1] * 1000:.2f} ms"
    )


def measure(label, index, cases, quiet):
    # One warm-up pass so the first question does not pay for imports and caches.
    evaluate(cases[:5], index, min_score=settings.FAQ_MIN_SCORE)
    report = evaluate(cases, index, min_score=settings.FAQ_MIN_SCORE)
    print(f"\n-- {label}")
    if not quiet:
        for outcome in report.outcomes:
            top = outcome.ranked[0] if outcome.ranked else "-"
            print(f"  {outcome.seconds * 1000:7.2f} ms  {top:<28} {outcome.case.question}")
    print(
        f"recall@1 {report.recall_at(1):.3f}  recall@3 {report.recall_at(3):.3f}  MRR {report.mrr():.3f}  "
        f"not covered {report.not_covered_rate():.3f}  declined {report.declined_rate():.3f}"
    )
    print(f"retrieval per question: {milliseconds(report.latencies())}")
    return report


def near_exact_figures(documents, cases):
    index = SearchIndex(documents)
    by_key = {document.key: document for document in documents}
    threshold = settings.FAQ_NEAR_EXACT
    triggered = correct = 0
    for case in cases:
        result = index.search(case.question)
        if result.covered and near_exact(case.question, result.best.document, threshold):
            triggered += 1
            correct += result.best.key in case.expected
    own = sum(near_exact(document.question, by_key[document.key], threshold) for document in documents)
    print(f"\n-- near-exact shortcut (similarity ≥ {threshold})")
    print(f"entries' own questions: {own}/{len(documents)} answered with the entry's text")
    print(f"evaluation questions: {triggered}/{len(cases)} took the shortcut, {correct} of them with the right entry")


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
                result = index.search(document.question)
                hits = [result.best] + [h for h in result.hits[1:] if h.score >= result.min_score / 2]
                system = entries_prompt(settings.SYSTEM_PROMPT, hits)
                started = time.perf_counter()
                response = client.post(
                    f"{url}/chat/completions",
                    json={
                        "model": settings.INFERENCE_MODEL,
                        "messages": [{"role": "system", "content": system}, {"role": "user", "content": document.question}],
                        "max_tokens": 256,
                        "temperature": 0.0,
                    },
                )
                seconds = time.perf_counter() - started
                answer = response.json()["choices"][0]["message"]["content"]
                row = (seconds, 1 in cited_numbers(answer), overlap(answer, document.answer), document.question)
                rows.append(row)
                print(f"  {row[0]:6.2f} s  cites [1]: {'yes' if row[1] else 'no ':<3}  keeps {row[2]:4.0%} of the entry's words  {row[3]}", flush=True)
    finally:
        process.terminate()
        process.wait(10)
    print(
        f"model: median {statistics.median(r[0] for r in rows):.2f} s per answer, cites [1] in "
        f"{sum(r[1] for r in rows)}/{len(rows)}, keeps {statistics.mean(r[2] for r in rows):.0%} of the entry's words"
    )
    print("entry's own text: 0 s of generation, always cited, keeps 100% of its words")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="Only the summaries.")
    parser.add_argument("--generation", nargs="?", const=10, type=int, metavar="N", help="Also ask the CPU model N questions.")
    options = parser.parse_args()

    documents = sample_documents()
    cases = read_cases((DATA / "sample_eval.jsonl").read_text(encoding="utf-8").splitlines())
    print(f"{len(documents)} entries, {len(cases)} questions, coverage threshold {settings.FAQ_MIN_SCORE}")

    started = time.perf_counter()
    lexical = SearchIndex(documents)
    print(f"index build: {(time.perf_counter() - started) * 1000:.1f} ms")
    measure("lexical (BM25 words + trigrams, synonyms, typo correction)", lexical, cases, options.quiet)
    measure("lexical without the synonym list", SearchIndex(documents, analyzer=Analyzer(use_synonyms=False)), cases, True)

    embedder = configured_embedder()
    if embedder is None:
        print("\n-- hybrid: not measured (set FAQ_EMBEDDINGS_URL and FAQ_EMBEDDINGS_MODEL to an /v1/embeddings service)")
    else:
        hybrid = SearchIndex(documents, embedder=embedder)
        if hybrid.vectors is None:
            print("\n-- hybrid: the embeddings endpoint failed; see the log")
        else:
            measure(f"hybrid (embedding weight {settings.FAQ_EMBEDDINGS_WEIGHT})", hybrid, cases, options.quiet)

    near_exact_figures(documents, cases)
    if options.generation:
        generation_figures(documents, options.generation)


if __name__ == "__main__":
    main()
