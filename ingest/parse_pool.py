"""Parse files in worker processes: the next files are parsed while the current ones embed, and
a parser that hangs or crashes costs only its own file.

Each worker parses one file at a time. A file that takes longer than the timeout has its
worker killed (with any converter it started: LibreOffice, tesseract, pandoc) and fails with
ParseError("parser timed out after N s"); a new worker takes the free place. Files queued
behind it are not affected.

Workers are started by a fork server that has imported unstructured's partitioners once, so a
new worker is ready in milliseconds. They are never forked from the calling process, which may
be running torch threads (forking those can deadlock).

The pool's processes die with the process that owns it, even when that one is SIGKILLed (see
"The owner's death" below): a busy worker and its converters, then the fork server.

The worker processes' side (their main loop and the watchdog that ends them with their
owner) is ingest/parse_worker.py.
"""

import enclave  # noqa: F401, I001  (first: switches the ML libraries offline in every worker)

import collections
import contextlib
import itertools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_ready
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, cast

from ingest.parse_worker import READY, Outcome, ParseFunction, worker_main
from ingest.parsers import DEFAULT_MAX_BYTES, ParsedPart, ParseError, parse_file

DEFAULT_TIMEOUT_S = 120.0
# Starting the first worker also starts the fork server, which imports the partitioners: that
# takes seconds (tens on a loaded machine) and is not counted against any file's timeout.
STARTUP_TIMEOUT_S = 300.0
# A worker is replaced after this many files: parsers cache fonts, models and buffers, and a
# fresh process gives the memory back.
DEFAULT_TASKS_PER_WORKER = 100
# Imported once by the fork server so that each worker starts with them loaded (together they
# take seconds to import). Missing ones are skipped by multiprocessing.
PRELOAD_MODULES = [
    "ingest.parse_pool",
    "unstructured.partition.auto",
    "unstructured.partition.pdf",
    "unstructured.partition.docx",
    "unstructured.partition.pptx",
    "unstructured.partition.xlsx",
    "unstructured.partition.html",
    "unstructured.partition.text",
    "unstructured.partition.email",
    "unstructured.partition.md",
]


class ParseFuture(Future[list[ParsedPart]]):
    """A file's parts to come (or its ParseError); `seconds` is the time its parser ran,
    set when it is done."""

    seconds: float = 0.0


class ParseResult(NamedTuple):
    path: Path
    outcome: Outcome  # the parts, or the reason there are none
    seconds: float  # time in the parser (the timeout, for a file that timed out)


def default_workers() -> int:
    """One fewer than the CPUs, so the embedder keeps a core; at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


@dataclass
class _Task:
    id: int
    path: Path
    future: ParseFuture


@dataclass
class _Worker:
    process: Any  # multiprocessing.process.BaseProcess (a context-specific subclass)
    connection: Connection
    started: float  # when it was started, then when it took its current file
    ready: bool = False
    task: _Task | None = None
    done: int = field(default=0)


class ParsePool:
    """Parse files in `workers` processes with a per-file `timeout`.

    `submit(path)` returns a ParseFuture whose result is the file's parts, or which raises
    ParseError. `map_unordered(paths, ahead=K)` yields ParseResult(path, parts or ParseError,
    seconds) as files finish, keeping at most K files in flight, so a consumer that embeds each
    result while the workers parse the next ones never holds more than K parsed files.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_bytes: int = DEFAULT_MAX_BYTES,
        parse: ParseFunction = parse_file,
        initializer: Callable[[], None] | None = None,
        tasks_per_worker: int = DEFAULT_TASKS_PER_WORKER,
        start_method: str | None = None,
    ) -> None:
        self.workers = workers or default_workers()
        self.timeout = timeout
        self._max_bytes = max_bytes
        self._parse = parse
        self._initializer = initializer
        self._tasks_per_worker = max(1, tasks_per_worker)
        self._context = _context(start_method)
        self._pending: collections.deque[_Task] = collections.deque()
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._wake_reader, self._wake_writer = multiprocessing.Pipe(duplex=False)
        self._closing = False
        self._warm = False  # start a worker before any file is submitted
        self._error: BaseException | None = None
        self._dispatcher = threading.Thread(
            target=self._run, name="parse-pool-dispatcher", daemon=True
        )
        self._dispatcher.start()

    # --- public API ---------------------------------------------------------------------------

    def submit(self, path: Path) -> ParseFuture:
        future = ParseFuture()
        with self._lock:
            if self._closing:
                raise RuntimeError("the parse pool is closed")
            if self._error is not None:
                raise RuntimeError(f"the parse pool failed: {self._error}")
            self._pending.append(_Task(next(self._ids), Path(path), future))
        self._wake()
        return future

    def warm_up(self) -> None:
        """Start a worker now, in the background (the first one in this process also starts
        the fork server, which imports the parsers: seconds), so that the first file does
        not wait for it. Costs nothing more if files are submitted anyway."""
        with self._lock:
            self._warm = True
        self._wake()

    def map_unordered(
        self, paths: Iterable[Path], *, ahead: int | None = None
    ) -> Iterator[ParseResult]:
        """Parse `paths`, yielding each as it finishes, with at most `ahead` files in flight
        (default: twice the workers, so every worker has its next file ready)."""
        limit = max(1, ahead or 2 * self.workers)
        remaining = iter(paths)
        in_flight: dict[ParseFuture, Path] = {}

        def top_up() -> None:
            while len(in_flight) < limit:
                path = next(remaining, None)
                if path is None:
                    return
                in_flight[self.submit(path)] = Path(path)

        top_up()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for finished in done:
                future = cast(ParseFuture, finished)
                path = in_flight.pop(future)
                # Refill before handing the result over: the workers parse on while the
                # consumer embeds.
                top_up()
                yield ParseResult(path, outcome(future), future.seconds)

    def close(self) -> None:
        """Stop the workers. Files not yet finished fail with "parse pool closed"."""
        with self._lock:
            self._closing = True
        self._wake()
        self._dispatcher.join()
        self._wake_reader.close()
        self._wake_writer.close()

    def __enter__(self) -> "ParsePool":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- the dispatcher thread ----------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_writer.send_bytes(b"")

    def _run(self) -> None:
        workers: list[_Worker] = []
        try:
            while not self._closing:
                self._assign(workers)
                self._wait(workers)
                self._expire(workers)
        except BaseException as error:  # never leave a caller waiting on a future forever
            self._error = error
        finally:
            self._shut_down(workers)

    def _assign(self, workers: list[_Worker]) -> None:
        idle = [w for w in workers if w.ready and w.task is None]
        with self._lock:
            queued = len(self._pending)
        starting = sum(1 for w in workers if not w.ready)
        wanted = queued - len(idle) - starting
        if self._warm:
            self._warm = False
            wanted = max(wanted, 0 if workers else 1)
        for _ in range(min(wanted, self.workers - len(workers))):
            workers.append(self._start_worker())
        for worker in idle:
            task = self._next_task()
            if task is None:
                return
            worker.connection.send((task.id, str(task.path)))
            worker.task, worker.started = task, time.monotonic()

    def _next_task(self) -> _Task | None:
        while True:
            with self._lock:
                if not self._pending:
                    return None
                task = self._pending.popleft()
            if task.future.set_running_or_notify_cancel():  # False: cancelled while queued
                return task

    def _start_worker(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=worker_main,
            # The owner is this process (whichever of its threads runs the dispatcher).
            args=(theirs, self._parse, self._max_bytes, self._initializer, os.getpid()),
            name="parse-worker",
            daemon=True,
        )
        process.start()
        theirs.close()
        return _Worker(process, ours, started=time.monotonic())

    def _wait(self, workers: list[_Worker]) -> None:
        watched = [w for w in workers if w.task is not None or not w.ready]
        deadlines = [w.started + self._limit(w) for w in watched]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        handles: list[Any] = [self._wake_reader]
        for worker in watched:
            handles += [worker.connection, worker.process.sentinel]
        ready = wait_ready(handles, timeout)
        if self._wake_reader in ready:
            while self._wake_reader.poll():
                self._wake_reader.recv_bytes()
        for worker in watched:
            if worker.connection in ready:
                self._receive(worker, workers)
            elif worker.process.sentinel in ready:
                self._lost(worker, workers)

    def _limit(self, worker: _Worker) -> float:
        return self.timeout if worker.ready else STARTUP_TIMEOUT_S

    def _receive(self, worker: _Worker, workers: list[_Worker]) -> None:
        try:
            message = worker.connection.recv()
        except (EOFError, OSError):  # died while sending
            self._lost(worker, workers)
            return
        if message == READY:
            worker.ready = True
            return
        task = worker.task
        assert task is not None
        worker.task = None
        worker.done += 1
        _, result, seconds = message
        _resolve(task, result, seconds)
        if worker.done >= self._tasks_per_worker:
            workers.remove(worker)
            _stop(worker)

    def _lost(self, worker: _Worker, workers: list[_Worker]) -> None:
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        if not worker.ready:
            # Not a file's fault: the environment is broken (a failing initializer, a missing
            # module). Every file would fail the same way, so the pool stops and says why.
            raise RuntimeError(f"a parse worker exited while starting (exit code {code})")
        self._replace(worker, workers, ParseError(f"parser crashed (exit code {code})"))

    def _expire(self, workers: list[_Worker]) -> None:
        now = time.monotonic()
        for worker in [w for w in workers if w.task is not None or not w.ready]:
            if now - worker.started < self._limit(worker):
                continue
            if not worker.ready:
                raise RuntimeError(f"a parse worker did not start within {STARTUP_TIMEOUT_S:g} s")
            self._replace(worker, workers, ParseError(f"parser timed out after {self.timeout:g} s"))

    def _replace(self, worker: _Worker, workers: list[_Worker], reason: ParseError) -> None:
        """Fail the worker's file, kill the worker (and its converters); the next file that
        needs a worker starts a new one."""
        workers.remove(worker)
        _kill(worker)
        if worker.task is not None:
            _resolve(worker.task, reason, time.monotonic() - worker.started)

    def _shut_down(self, workers: list[_Worker]) -> None:
        reason = ParseError(f"parse pool closed{f': {self._error}' if self._error else ''}")
        with self._lock:
            self._closing = True
            queued = list(self._pending)
            self._pending.clear()
        for task in queued:
            if task.future.set_running_or_notify_cancel():
                _resolve(task, reason, 0.0)
        for worker in workers:
            if worker.task is not None:
                _kill(worker)
                _resolve(worker.task, reason, time.monotonic() - worker.started)
            else:
                _stop(worker)


def outcome(future: "Future[list[ParsedPart]]") -> Outcome:
    """The parts, or the ParseError that says why there are none."""
    try:
        return future.result()
    except ParseError as error:
        return error


def _resolve(task: _Task, result: object, seconds: float) -> None:
    task.future.seconds = seconds
    if isinstance(result, ParseError):
        task.future.set_exception(result)
    elif isinstance(result, list):
        task.future.set_result(result)
    else:
        task.future.set_exception(ParseError(f"parser returned {type(result).__name__}"))


def _stop(worker: _Worker) -> None:
    with contextlib.suppress(OSError):
        worker.connection.send(None)
    worker.process.join(timeout=5)
    if worker.process.is_alive():
        _kill(worker)
    worker.connection.close()


def _kill(worker: _Worker) -> None:
    # Each worker leads its own process group, so this also stops a converter it started.
    pid = worker.process.pid
    try:
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        worker.process.kill()
    worker.process.join(timeout=5)
    worker.connection.close()


def _context(start_method: str | None) -> Any:
    method = start_method or (
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    )
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(PRELOAD_MODULES)
    return context
