import os

# One BLAS thread per process, set before numpy is first imported. Embedding a question and scoring the
# passages are small products: with OpenBLAS's default of a thread per core, on a machine whose cores are
# busy with other work, its threads wait for each other and a 6 ms question embedding took 400 ms at p95
# (`benchmarks.faq`, `benchmarks.knowledge`). An operator's own OPENBLAS_NUM_THREADS is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from chatapp.celery import app as celery_app  # noqa: E402 (after the thread limit)

__all__ = ["celery_app"]
