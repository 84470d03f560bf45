"""CPU inference service (OpenAI-compatible) and the async client for any such endpoint.

Plain Python, no Django: the web app talks to the service over HTTP exactly as it
would to vLLM or a hosted API.

Run it with ``python -m inference`` (``--help`` lists the options; each has an
``INFERENCE_*`` environment variable). Routes:

- ``GET /health``: model, context length, ``busy``, ``queued`` and counters
  (completed, cancelled, dropped, rejected, failed).
- ``GET /v1/models``: the one served model.
- ``POST /v1/chat/completions``: streamed (vLLM's SSE format) or not. Image parts
  (``data:`` URIs only) are read by OCR and inserted into the prompt as text.
- ``GET /debug/last-prompt``: the last prompt the model read, only with
  ``--record-prompts``.

``inference.client`` holds the async client the worker uses.
"""

import os

# One BLAS thread for the embeddings encoder, set before numpy is first imported: its products are small,
# and on busy cores OpenBLAS's threads wait for each other (a 6 ms embedding took 400 ms at p95).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
