"""Parsing ahead of the embedder: the interface a worker parses through (`Parser`: the
process pool of ingest/parse_pool.py, or `InlineParser` in this process) and `ReadAhead`,
which keeps a few parsed files ready in a thread so the worker embeds while files parse."""

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from ingest.parse_pool import ParseResult
from ingest.parsers import DEFAULT_MAX_BYTES, ParsedPart, ParseError, parse_file


class Parser(Protocol):
    """Parses files and yields each as it finishes (the ParsePool's interface)."""

    def map_unordered(
        self, paths: Iterable[Path], *, ahead: int | None = None
    ) -> Iterator[ParseResult]: ...


class InlineParser:
    """Parses in this process, one file at a time (in the worker's read-ahead thread, so it
    still overlaps embedding), without the pool's per-file timeout or crash isolation. For
    tests and for callers that cannot start processes."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes

    def map_unordered(
        self, paths: Iterable[Path], *, ahead: int | None = None
    ) -> Iterator[ParseResult]:
        for path in paths:
            started = time.perf_counter()
            try:
                parsed: list[ParsedPart] | ParseError = parse_file(path, max_bytes=self.max_bytes)
            except ParseError as error:
                parsed = error
            yield ParseResult(path, parsed, time.perf_counter() - started)


NOT_READY = "not ready"


class ReadAhead:
    """Runs `parse(paths)` in a thread, up to `limit` parsed files ahead of the caller, so
    that the caller can ask whether a parsed file is ready without waiting for one.

    `paths` is pulled from that thread too (it may check files as it goes); once the caller
    leaves, no further path is pulled. An exception in the thread is raised in the caller."""

    def __init__(
        self,
        parse: Callable[[Iterable[Path]], Iterator[ParseResult]],
        paths: Iterable[Path],
        limit: int = 4,
    ) -> None:
        self._results: queue.Queue[ParseResult | BaseException | None] = queue.Queue(limit)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(parse, paths), name="parse-ahead", daemon=True
        )
        self._thread.start()

    def next(self, wait: bool) -> ParseResult | str | None:
        """The next parsed file; None at the end; NOT_READY when not waiting and none is."""
        try:
            item = self._results.get(block=wait)
        except queue.Empty:
            return NOT_READY
        if isinstance(item, BaseException):
            raise item
        return item

    def _run(
        self, parse: Callable[[Iterable[Path]], Iterator[ParseResult]], paths: Iterable[Path]
    ) -> None:
        try:
            for result in parse(self._until_stopped(paths)):
                if not self._put(result):
                    return
            self._put(None)
        except BaseException as error:
            self._put(error)

    def _until_stopped(self, paths: Iterable[Path]) -> Iterator[Path]:
        iterator = iter(paths)
        while not self._stop.is_set():
            path = next(iterator, None)
            if path is None:
                return
            yield path

    def _put(self, item: ParseResult | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._results.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *_: object) -> None:
        # The thread may be waiting for a parser (up to its timeout): it is not joined, it
        # stops at its next step.
        self._stop.set()
