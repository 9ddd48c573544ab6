"""The parse pool's processes die with the process that owns the pool.

A real owner process opens a ParsePool, parses a file, and leaves a worker busy on a stuck
parse (a CPU loop, with a converter-like child process). It is then SIGKILLed, which runs no
clean-up: every process it started (the fork server, the workers, the converter,
multiprocessing's resource tracker) must be gone within a bounded wait.

The watchdog that does it must not kill healthy processes either: a pool made in a thread
that has ended, or whose dispatcher thread has ended (the fork server is started by the
first pool's dispatcher and serves the next pools), keeps working.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.parse_pool import ParsePool
from ingest.parsers import ParsedPart, parse_file
from tests.support.paths import ROOT

pytestmark = pytest.mark.timeout(420)

STUCK = "stuck.txt"
STARTED = "stuck.started"  # written by the stuck parse: the converter's pid
# The first worker also starts the fork server, which imports the parsers: tens of seconds
# on a loaded machine.
START_LIMIT_S = 300.0
DEATH_LIMIT_S = 15.0

OWNER = """
import sys
import time
from pathlib import Path

from ingest.parse_pool import ParsePool
from tests.ingest.test_parse_pool_lifetime import STUCK, stuck_parse

folder = Path(sys.argv[1])
pool = ParsePool(2, timeout=600, parse=stuck_parse)
parts = pool.submit(folder / "notes.txt").result(timeout=600)
assert parts and any("ledger" in str(e) for e in parts[0].elements), parts
pool.submit(folder / STUCK)
print("parsed", flush=True)
time.sleep(3600)
"""


# Runs in the pool's workers, which import it from this module.
def stuck_parse(path: Path, *, max_bytes: int) -> list[ParsedPart]:
    """parse_file, except for STUCK: that starts a converter-like child process, says so,
    then spins on the CPU for good, like a parser caught in a loop."""
    if path.name != STUCK:
        return parse_file(path, max_bytes=max_bytes)
    converter = subprocess.Popen(["sleep", "600"])
    (path.parent / STARTED).write_text(str(converter.pid))
    while True:
        sum(range(1000))


# --- processes, from /proc -------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_bytes().decode("ascii", "replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[0], int(fields[1]), int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """Every process under `root`: pid → start time (which tells a reused pid apart)."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None:
            children.setdefault(stat[1], []).append(int(entry.name))
            started[int(entry.name)] = stat[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and child in started:
                found[child] = started[child]
                todo.append(child)
    return found


def running(processes: dict[int, int]) -> dict[int, str]:
    """Those of `processes` still running (a zombie has exited): pid → command line."""
    alive = {}
    for pid, start in processes.items():
        stat = _stat(pid)
        if stat is None or stat[2] != start or stat[0] in ("Z", "X"):
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        alive[pid] = command[:160]
    return alive


def kill_all(processes: dict[int, int]) -> None:
    for pid in running(processes):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# --- tests -----------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("Notes about the ledger: it closes on Fridays.\n")
    (tmp_path / STUCK).write_text("never parsed")
    return tmp_path


def test_pool_processes_die_when_the_owner_is_killed(folder: Path) -> None:
    log = (folder / "owner.log").open("w")
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(folder)], cwd=ROOT, stdout=log, stderr=log, text=True
    )
    started: dict[int, int] = {}
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while not (folder / STARTED).exists() or not (folder / STARTED).read_text():
            assert owner.poll() is None, (folder / "owner.log").read_text()
            assert time.monotonic() < deadline, "the stuck parse did not start"
            time.sleep(0.1)
        converter = int((folder / STARTED).read_text())
        started = descendants(owner.pid)
        # The fork server, the busy worker and its converter at least.
        assert converter in started and len(started) >= 3, running(started)
        assert "parsed" in (folder / "owner.log").read_text()

        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
        deadline = time.monotonic() + DEATH_LIMIT_S
        while running(started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert running(started) == {}, "outlived their owner"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        kill_all(started)
        log.close()


def fork_servers() -> dict[int, int]:
    """This process's fork server (pid → start time): a child of this process running
    multiprocessing.forkserver (its workers, forked from it, share its command line)."""
    mine = descendants(os.getpid())
    return {
        pid: start
        for pid, start in mine.items()
        if (_stat(pid) or ("", 0, 0))[1] == os.getpid()
        and "multiprocessing.forkserver" in running({pid: start}).get(pid, "")
    }


def test_pool_processes_outlive_the_threads_that_started_them(folder: Path) -> None:
    """A pool made in a thread that has ended keeps working. The fork server, started by
    the first pool's dispatcher thread, outlives that pool and serves the next one."""
    pools: list[ParsePool] = []
    maker = threading.Thread(target=lambda: pools.append(ParsePool(1)))
    maker.start()
    maker.join()
    with pools[0] as pool:
        first = pool.submit(folder / "notes.txt").result(timeout=START_LIMIT_S)
        servers = fork_servers()
        again = pool.submit(folder / "notes.txt").result(timeout=60)
    assert first and again and len(servers) == 1

    results: list[list[ParsedPart]] = []

    def use_a_pool() -> None:
        with ParsePool(1) as pool:
            results.append(pool.submit(folder / "notes.txt").result(timeout=60))

    user = threading.Thread(target=use_a_pool)
    user.start()
    user.join()
    assert len(results) == 1 and results[0]
    assert fork_servers() == servers  # the same one, still running
