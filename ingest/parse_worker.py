"""The parse pool's worker processes (ingest/parse_pool.py is the owner's side): the loop
that parses one file per task and sends back its parts or its ParseError, and the watchdog
that ends a worker, with the converters it started, when the pool's owner dies.
"""

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

from ingest.parsers import ParsedPart, ParseError

READY = "ready"  # a worker's first message: it is ready for tasks

Outcome = list[ParsedPart] | ParseError


class ParseFunction(Protocol):
    """`parse_file`'s signature; a replacement must be a module-level (picklable) function."""

    def __call__(self, path: Path, *, max_bytes: int) -> list[ParsedPart]: ...


def worker_main(
    connection: Connection,
    parse: ParseFunction,
    max_bytes: int,
    initializer: Callable[[], None] | None,
    owner: int,
) -> None:
    # Own process group: a timeout kills the worker together with the converters it started.
    os.setpgrp()
    # Then (it kills that group) the watchdog: the worker goes when the pool's owner does.
    threading.Thread(
        target=_die_with_owner, args=(owner,), name="owner-watchdog", daemon=True
    ).start()
    # ^C goes to the parent, which closes the pool; a worker must not die mid-file on its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer()
    connection.send(READY)
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        task_id, path = task
        result: Outcome
        started = time.monotonic()
        try:
            result = parse(Path(path), max_bytes=max_bytes)
        except ParseError as error:
            result = ParseError(str(error))  # without the traceback chain: it need not pickle
        except Exception as error:
            result = ParseError(f"{type(error).__name__}: {error}"[:500])
        seconds = time.monotonic() - started
        try:
            connection.send((task_id, result, seconds))
        except Exception as error:  # an element that does not pickle
            failure = ParseError(f"parse result could not be sent: {error}")
            connection.send((task_id, failure, seconds))


# --- the owner's death ------------------------------------------------------------------------
#
# A service killed with SIGKILL (or by the OOM killer) closes nothing. An idle worker notices
# (its pipe to the owner reads EOF), but a worker busy parsing would go on for as long as its
# parser takes, with no timeout any more (the owner applied it), and so would the converters
# it started. The fork server would stay too: it exits once no process holds its "alive"
# pipe, and every worker holds one. So each worker runs a watchdog thread that waits for the
# owner to exit, then SIGKILLs the worker's process group: itself and its converters. The
# fork server then exits on its own, as does multiprocessing's resource tracker.
#
# Not PR_SET_PDEATHSIG. It signals a child when the *thread* that created it exits, not its
# process: the pool may be made and its dispatcher run by short-lived threads (an anyio
# worker thread of the web service; the fork server is started by the first pool's
# dispatcher and serves the later pools), so a parent-death signal would kill healthy
# processes. It would not help the workers either: their parent is the fork server, which
# outlives the owner as long as they do.
#
# The owner is named by its pid, passed explicitly (a worker's parent is the fork server).
# It is watched through a pidfd (Linux 5.3+): bound to that very process, so a reused pid
# cannot fool it, and readable as soon as the process has exited, reaped or not. Without
# pidfds the watchdog polls the pid every OWNER_POLL_S. The watchdog is a Python thread: a
# parser stuck in C code that holds the GIL delays it until it lets go.

OWNER_POLL_S = 0.5


def _die_with_owner(owner: int) -> None:
    _wait_for_exit(owner)
    with contextlib.suppress(OSError):
        # The worker leads its own group (os.setpgrp() in worker_main): this group is the
        # worker and its converters, never the owner's.
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(1)


def _wait_for_exit(pid: int) -> None:
    """Return once process `pid` has exited."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):  # no pidfds here: poll
        while _alive(pid):
            time.sleep(OWNER_POLL_S)
        return
    try:
        poller = select.poll()
        poller.register(handle, select.POLLIN)
        while not poller.poll():
            pass
    finally:
        os.close(handle)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
        return state not in (b"Z", b"X")  # a zombie has exited: it only waits to be reaped
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
