"""The signing key: checked for strength, or made once and kept in a file.

Plain Python (no Django settings yet): the settings module calls it.
"""

import os
import secrets
from pathlib import Path

# Django's own criteria (`manage.py check --deploy`, security.W009).
MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5
# Keys that were published, so anyone could sign a session cookie with them.
PUBLIC_KEYS = {"insecure-development-key-change-me-in-production"}


def is_weak(key: str) -> bool:
    return (
        key in PUBLIC_KEYS
        or key.startswith("django-insecure")
        or len(key) < MIN_LENGTH
        or len(set(key)) < MIN_UNIQUE_CHARACTERS
    )


def load_or_create(path: Path) -> str:
    """The key in `path`, made (readable by its owner only) if there is none yet.

    Several processes start at once under `make run`: the key is written to a
    temporary file and linked into place, so every one of them reads the same.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(64))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process was first: use its key
    finally:
        temporary.unlink()
    return path.read_text().strip()
