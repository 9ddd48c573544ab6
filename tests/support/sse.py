"""Server-sent events in tests: a whole body parsed at once (parse_sse), or events read as
their bytes come off a socket (iter_events); and holding the model's one worker thread
(model_held) to prove when events leave the server, without timing."""

import codecs
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from app.answering.generation import Generator

GATE_TIMEOUT = 120.0


def parse_sse(body: str) -> list[tuple[str, Any]]:
    """(event, decoded JSON data) per event; lines end in CRLF, LF or CR (the SSE spec)."""
    events: list[tuple[str, Any]] = []
    kind, data = "message", []
    for line in [*re.split(r"\r\n|\r|\n", body), ""]:
        if line == "":
            if data:
                events.append((kind, json.loads("\n".join(data))))
            kind, data = "message", []
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
    return events


def parse_block(block: str) -> tuple[str, Any]:
    kind, data = "message", []
    for line in re.split(r"\r\n|\r|\n", block):
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
    return kind, json.loads("\n".join(data))


def iter_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """Events as their bytes come off the socket, not after the body is complete."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    buffer = ""
    for chunk in response.iter_bytes():
        buffer += decoder.decode(chunk)
        while match := re.search(r"\r\n\r\n|\n\n", buffer):
            block, buffer = buffer[: match.start()], buffer[match.end() :]
            if block.strip() and not block.startswith(":"):
                yield parse_block(block)
    assert not buffer.strip(), f"unterminated event: {buffer!r}"


def wait_until(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll until `condition` holds or `limit` seconds pass (a bound, not a measurement)."""
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


@contextmanager
def model_held(generator: Generator) -> Iterator[threading.Event]:
    """Occupy the model's one worker thread until the yielded event is set: until then no
    token can be generated. Always let go on exit, so the server can finish and shut down."""
    gate = threading.Event()
    blocker = generator._executor.submit(gate.wait, GATE_TIMEOUT)
    try:
        yield gate
    finally:
        gate.set()
        blocker.result(timeout=GATE_TIMEOUT)
