"""How a document's path is shown: in full to callers who see every group (administrators,
the local demo), and as `<source folder>/<path inside it>` to everyone else, so a server's
directory layout (`/srv/…/uploads/…`) is not handed to every employee."""

import dataclasses
import threading
import time
from collections.abc import Sequence
from pathlib import PurePosixPath

from sqlalchemy import select

from enclave.db import Database, Source
from enclave.vectorstore import Hit

_REFRESH_SECONDS = 30.0


class SourcePaths:
    """Source folders, read from the database and kept for a short while (sources change
    rarely; a path under no known folder triggers a fresh read)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._roots: list[str] = []
        self._read_at = 0.0
        self._lock = threading.Lock()

    def _load(self, force: bool = False) -> list[str]:
        with self._lock:
            if force or time.monotonic() - self._read_at > _REFRESH_SECONDS:
                with self.database.session() as session:
                    roots = session.scalars(select(Source.root)).all()
                # Longest first: a nested source's folder wins over its parent's.
                self._roots = sorted((r.rstrip("/") for r in roots), key=len, reverse=True)
                self._read_at = time.monotonic()
            return self._roots

    def display(self, path: str, groups: Sequence[str] | None) -> str:
        """`path` as the caller with `groups` (None: every group) may see it."""
        if groups is None or not path.startswith("/"):
            return path
        for force in (False, True):
            for root in self._load(force):
                if path.startswith(root + "/"):
                    return f"{PurePosixPath(root).name}/{path[len(root) + 1 :]}"
        return PurePosixPath(path).name

    def hits(self, hits: list[Hit], groups: Sequence[str] | None) -> list[Hit]:
        if groups is None:
            return hits
        return [dataclasses.replace(h, source=self.display(h.source, groups)) for h in hits]
