"""Bounds every request meets before any handler decodes it: the query string's length and a
JSON body's nesting depth.

Both guard the decoders rather than the handlers. A 50,000-character `q` reached SQLite's
LIKE-pattern limit, and JSON nested a thousand levels deep made the validators recurse until
Python raised RecursionError: each was a 500 on some route. Here they get a 4xx that says
what is wrong, on every route at once.
"""

import json
import re
from typing import Any

from litestar.datastructures import Headers
from litestar.types import ASGIApp, Receive, Scope, Send

MAX_QUERY_BYTES = 8_192
MAX_JSON_DEPTH = 64
_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether brackets nest deeper than `limit`, ignoring those inside strings. A scan of
    the structural characters only: no parse, so no recursion however deep the input."""
    depth = 0
    in_string = False
    escaped_at = -1  # the position of a character a backslash escapes
    for match in _STRUCTURE.finditer(body):
        char, at = match.group(), match.start()
        if at == escaped_at:
            continue
        if in_string:
            if char == b"\\":
                escaped_at = at + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


async def refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
    """Answer a request these guards stop before the app sees it, in the shape the route's
    clients read: OpenAI's under /v1, ours elsewhere. Shared with app/security/hosts.py."""
    if scope.get("path", "").startswith("/v1/"):
        error = {"message": detail, "type": "invalid_request_error", "param": None, "code": None}
        body = json.dumps({"error": error}).encode()
    else:
        body = json.dumps({"status_code": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class RequestBounds:
    """ASGI middleware: 414 for an over-long query string, 400 for JSON nested too deeply.
    JSON bodies are read here (they are small: ENCLAVE_MAX_JSON_BYTES) and replayed to the
    app; other bodies, uploads among them, pass through untouched."""

    def __init__(self, app: ASGIApp, max_json_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            too_long = f"The query string is longer than {MAX_QUERY_BYTES} bytes: send long "
            await refuse(scope, send, 414, too_long + "input in a POST body.")
            return
        content_type = Headers.from_scope(scope).get("content-type", "")
        if "json" not in content_type.lower():
            await self.app(scope, receive, send)
            return
        body, messages = await self._read(receive)
        if body is None:
            too_large = f"The request body is larger than {self.max_json_bytes} bytes."
            await refuse(scope, send, 413, too_large)
            return
        if json_depth_exceeds(body, MAX_JSON_DEPTH):
            too_deep = f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels."
            await refuse(scope, send, 400, too_deep)
            return
        await self.app(scope, _replay(messages, receive), send)

    async def _read(self, receive: Receive) -> tuple[bytes | None, list[Any]]:
        messages: list[Any] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return b"".join(m.get("body", b"") for m in messages), messages
            size += len(message.get("body", b""))
            if size > self.max_json_bytes:
                return None, messages
            if not message.get("more_body", False):
                return b"".join(m.get("body", b"") for m in messages), messages


def _replay(messages: list[Any], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
