"""Where uploaded images are kept: Django's file system storage, without partial files.

A write that fails part-way (the disk is full, a quota is reached) raises
and leaves nothing behind: Django's own storage keeps the partial file, which
nothing would ever remove.
"""

from __future__ import annotations

import contextlib

from django.core.files import File
from django.core.files.storage import FileSystemStorage


class CleanFileSystemStorage(FileSystemStorage):
    def _save(self, name: str, content: File[bytes]) -> str:
        try:
            # `_save` is Django's documented hook for storages; django-stubs do not declare it.
            return super()._save(name, content)  # type: ignore[misc]
        except OSError:
            # `name` was free when the write began (Django picks an available
            # name first), so a file under it now is this write's partial one.
            with contextlib.suppress(OSError):
                self.delete(name)
            raise
