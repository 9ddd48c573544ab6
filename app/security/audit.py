"""The audit trail: who did what, when, with which documents, and how it went.

`AUDIT_MIDDLEWARE` wraps every request but the public ones (probes, assets, the schema) and
job polling. When the last byte of the response has gone (for a server-sent event stream: at
its end) it stores one `AuditEvent`: the caller (`request.user`, set by the auth middleware
inside it; "-" when authentication failed), the action, status, outcome and latency. Handlers
add what only they know with `note(request, …)`: the query or question, the documents and
chunks returned or cited, the model and settings used. ENCLAVE_AUDIT_HASH_QUERIES keeps a
SHA-256 of the query instead of its text; ENCLAVE_AUDIT_RETENTION_DAYS bounds how long events
are kept (`purge_loop` runs at start-up and daily; `enclave audit purge` on demand).

A request that generates an answer is written down before generation starts
(`record_start`): its event is stored then, with the outcome `incomplete` and status 0, and
the middleware completes that same event (status, outcome, latency, passages) when the
response has gone. A crash while generating (a killed service, a model that takes the
process down) leaves the event: who asked what, with which model, and that it never finished.

Recording is best effort and off the event loop: a failure is logged, never shown to the caller.
"""

import asyncio
import logging
import time
from typing import Any, cast
from urllib.parse import parse_qs

from litestar import Request
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.security.routes import audit_action
from app.state import running_or_none
from enclave.access.audit import INCOMPLETE
from enclave.settings import Settings

log = logging.getLogger(__name__)
NOTES = "enclave.audit"  # key of the handler's notes in the ASGI scope
# Key of the event already stored for this request (`record_start`); present (None until
# then) while the middleware watches the request.
EVENT = "enclave.audit.event"


def note(request: Request[Any, Any, Any], **details: Any) -> None:
    """Add to what the audit event of this request records: `query`, `documents`, `chunks`
    (lists of ids; extended), or any other key (kept in `detail`)."""
    notes = _notes(cast(dict[str, Any], request.scope))
    for key, value in details.items():
        if key in ("documents", "chunks"):
            notes.setdefault(key, [])
            notes[key].extend(v for v in value if v not in notes[key])
        else:
            notes[key] = value


def _notes(scope: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = scope.setdefault(NOTES, {})
    return found


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A route says its action, or that it is not audited, on its handler (routes.py).
        action = audit_action(scope.get("route_handler"), str(scope.get("method", "")))
        if scope["type"] != "http" or action is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        done = False
        cast(dict[str, Any], scope)[EVENT] = None  # watched: `record_start` may store early

        async def watch(message: Message) -> None:
            nonlocal status, done
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                done = True

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            # Raised by a middleware inside (auth: 401, rate limit: 429); Litestar answers it.
            status = status or int(getattr(error, "status_code", 500))
            raise
        finally:
            if done or status:
                await self._record(scope, status or 500, time.perf_counter() - started)

    async def _record(self, scope: Scope, status: int, seconds: float) -> None:
        started = running_or_none(scope["app"])
        recorder = started.audit if started else None
        if recorder is None:
            return
        raw = cast(dict[str, Any], scope)
        fields = _event_fields(raw)
        # A stream that broke after its 200 went out is an error all the same.
        failed = fields["detail"].get("failed") is True
        try:
            await asyncio.to_thread(
                recorder.record,
                **fields,
                status=status,
                latency_ms=seconds * 1000,
                outcome="error" if failed else None,
                event_id=raw.get(EVENT),
            )
        except Exception:
            log.exception("audit event not recorded")


def _event_fields(scope: dict[str, Any]) -> dict[str, Any]:
    """What the request's event records so far: caller, action, query and the notes."""
    notes = dict(_notes(scope))
    user = scope.get("user")
    method = str(scope.get("method", ""))
    query = notes.pop("query", None)
    if query is None and method == "GET":
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("q")
        query = values[0] if values else None
    return {
        "actor": getattr(user, "id", "-"),
        "actor_name": getattr(user, "name", ""),
        "action": notes.pop("action", None)
        or audit_action(scope.get("route_handler"), method)
        or "write",
        "method": method,
        "path": scope.get("path", ""),
        "query": query,
        "documents": notes.pop("documents", []),
        "chunks": notes.pop("chunks", []),
        "detail": notes,
    }


async def record_start(request: Request[Any, Any, Any]) -> None:
    """Store this request's audit event now, as `incomplete`, with what is noted so far:
    call it (after noting the question and the model's settings) before an answer is
    generated. If the process dies while generating, the event remains; otherwise the
    middleware completes it when the response has gone. Best effort like every record."""
    scope = cast(dict[str, Any], request.scope)
    started = running_or_none(request.app)
    recorder = started.audit if started else None
    if recorder is None or EVENT not in scope or scope[EVENT] is not None:
        return  # not audited (no middleware, or a skipped path), or stored already
    try:
        event = await asyncio.to_thread(recorder.record, **_event_fields(scope), outcome=INCOMPLETE)
    except Exception:
        log.exception("audit event not recorded")
        return
    scope[EVENT] = event.id


AUDIT_MIDDLEWARE = AuditMiddleware


def note_answer(request: Request[Any, Any, Any], answer: Any) -> None:
    """What an answer read and cited (an app.answering.answers.Answer; untyped to keep this module
    free of the answer machinery)."""
    cited = [c.document_id for c in answer.citations]
    note(
        request,
        documents=cited + [p.document_id for p in answer.passages],
        chunks=[p.chunk_id for p in answer.passages],
        cited=cited,
        abstained=bool(answer.abstained),
        search_query=answer.search_query,
    )


def generation_settings(settings: Settings, k: int, mode: str | None) -> dict[str, Any]:
    """The model and settings an answer is made with, for its audit event."""
    model = settings.llm_model_path
    return {
        "model": model.name if model else None,
        "k": k,
        "mode": mode or settings.search_mode,
        "temperature": settings.llm_temperature,
        "max_tokens": settings.llm_max_tokens,
        "min_relevance": settings.min_relevance,
    }
