"""Running `chatapp.documents.reading` on a file in a child process with limits.

The child gets a wall-clock limit (DOCUMENTS_SECONDS_PER_FILE), an address-space
limit (DOCUMENTS_MEMORY_MB) and a CPU-time limit; whatever a hostile file does to
its parser (loops, bombs, crashes) ends that child, and the document is refused
with the reason in words a person understands.
"""

from __future__ import annotations

import json
import os
import resource
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from chatapp.documents import reading
from chatapp.documents.reading import Reason

READER = Path(reading.__file__)

Progress = Callable[[int, int], None]

MESSAGES = {
    Reason.ENCRYPTED: "The PDF is protected by a password. Remove the password and upload it again.",
    Reason.NO_TEXT: "No text could be found in it. If it is a scan, run it through text recognition (OCR) first.",
    Reason.CORRUPT: "The file is damaged or not what its name says, and could not be read.",
    Reason.TOO_LARGE: "The file is too large.",
    Reason.TOO_MANY_PAGES: "The document has too many pages.",
    Reason.TOO_MANY_PASSAGES: "The document is too long: it would make too many passages.",
    Reason.UNSUPPORTED: "This kind of file is not supported. Use PDF, Word (.docx), HTML, Markdown or plain text.",
    Reason.UNSAFE: "The file contains constructs used in attacks on document readers, and was not read.",
    Reason.TOO_SLOW: "Reading the file took too long, and was stopped.",
}


@dataclass
class Refusal:
    reason: Reason
    detail: str = ""

    @property
    def message(self) -> str:
        text = MESSAGES[self.reason]
        return f"{text} ({self.detail})" if self.detail else text


@dataclass
class Read:
    format: str
    title: str
    pages: int
    passages: list[reading.PassageText]


def limits() -> reading.Limits:
    return reading.Limits(
        max_bytes=settings.DOCUMENTS_MAX_BYTES,
        max_pages=settings.DOCUMENTS_MAX_PAGES,
        max_passages=settings.DOCUMENTS_MAX_PASSAGES,
        max_unpacked_bytes=settings.DOCUMENTS_MAX_BYTES * 10,
        max_xml_bytes=settings.DOCUMENTS_MEMORY_MB * 1024 * 1024 // 16,
        passage_words=settings.DOCUMENTS_PASSAGE_WORDS,
    )


def too_large(size: int) -> Refusal | None:
    if size > settings.DOCUMENTS_MAX_BYTES:
        return Refusal(
            Reason.TOO_LARGE, f"{filesizeformat(size)}; the limit is {filesizeformat(settings.DOCUMENTS_MAX_BYTES)}"
        )
    return None


def child_limits(memory_mb: int, seconds: float) -> Callable[[], None]:
    memory, cpu = memory_mb * 1024 * 1024, int(seconds) + 5

    def apply() -> None:  # in the child, before the reader starts: nothing but system calls
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        os.nice(5)  # reading a document never competes with answers being streamed

    return apply


def read_file(path: Path, name: str, progress: Progress) -> Read | Refusal:
    """Read the file at `path` (uploaded as `name`) in a child process; `progress(done, total)` as it goes."""
    command = [sys.executable, "-I", str(READER), str(path), name, json.dumps(asdict(limits()))]
    deadline = time.monotonic() + settings.DOCUMENTS_SECONDS_PER_FILE
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        preexec_fn=child_limits(settings.DOCUMENTS_MEMORY_MB, settings.DOCUMENTS_SECONDS_PER_FILE),
        close_fds=True,
    )
    assert child.stdout is not None
    output = b""
    message: reading.ChildMessage | None = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return Refusal(Reason.TOO_SLOW, f"limit {settings.DOCUMENTS_SECONDS_PER_FILE:g} s")
            ready, _, _ = select.select([child.stdout], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(child.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            output += chunk
            while b"\n" in output:
                line, output = output.split(b"\n", 1)
                parsed = json.loads(line)
                if "progress" in parsed:
                    progress(*parsed["progress"])
                else:
                    message = parsed
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
    if message is None:
        # Killed by a limit (memory, CPU) or crashed inside a parser.
        if child.returncode in (-9, -24):  # SIGKILL, SIGXCPU
            return Refusal(Reason.TOO_LARGE, "it needs more memory or time to read than allowed")
        return Refusal(Reason.CORRUPT, "its reader stopped on it, perhaps short of memory")
    if "refused" in message:
        return Refusal(Reason(message["refused"]["reason"]), message["refused"].get("detail", ""))
    result = message["result"]
    return Read(
        format=result["format"],
        title=result["title"],
        pages=result["pages"],
        passages=[reading.PassageText(**passage) for passage in result["passages"]],
    )
