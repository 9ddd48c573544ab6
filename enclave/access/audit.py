"""The audit trail's records: who did what, when, to which documents, with what outcome.

Blocking writes (call them off the event loop). The HTTP side, which notes what each request
did and stores one event per request, is app/security/audit.py; the command line records
administrators' commands with `record_command`.
"""

import asyncio
import functools
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from enclave.db import AuditEvent, Database
from enclave.db.audit import AuditRepository
from enclave.db.models import utcnow
from enclave.secret_key import keyed_hash, load_secret_key
from enclave.settings import Settings

log = logging.getLogger(__name__)

INCOMPLETE = "incomplete"  # the outcome of an event whose request has not finished
PURGE_EVERY = 24 * 3600.0
QUERY_DETAILS = ("search_query",)  # detail keys holding query text


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "denied"
    if status in (429, 503):
        return "throttled"
    return "rejected" if status < 500 else "error"


class AuditRecorder:
    """Writes audit events; blocking (call it off the loop)."""

    def __init__(self, database: Database, settings: Settings, key: bytes | None = None) -> None:
        """`key`: the service's secret when the caller has it already (the app loads it
        once for sessions and the audit); otherwise read when a query is first hashed."""
        self.database = database
        self.hash_queries = settings.audit_hash_queries
        self.retention_days = settings.audit_retention_days
        self._settings = settings
        self._given_key = key

    @functools.cached_property
    def _key(self) -> bytes:
        return self._given_key or load_secret_key(self._settings)

    def query_hash(self, text: str) -> str:
        """Keyed (HMAC-SHA256 with the service's secret), so repeated questions can be told
        apart but no one without the key can confirm a guess by hashing it."""
        return keyed_hash(self._key, "audit-query", text)

    def record(
        self,
        *,
        actor: str,
        actor_name: str,
        action: str,
        method: str = "",
        path: str = "",
        status: int = 0,
        latency_ms: float = 0.0,
        query: str | None = None,
        documents: Iterable[str] = (),
        chunks: Iterable[str] = (),
        detail: dict[str, Any] | None = None,
        outcome: str | None = None,
        event_id: str | None = None,
    ) -> AuditEvent:
        """Store an event. `outcome` defaults to the status's (`ok` without one). With
        `event_id`, an event stored earlier (`incomplete`) is completed: everything but its
        id and time is replaced (a new event is stored if that one has gone)."""
        detail = dict(detail or {})
        if self.hash_queries:  # the condensed question is the question too
            for key in QUERY_DETAILS:
                if isinstance(detail.get(key), str):
                    detail[key] = self.query_hash(detail[key])
        values: dict[str, Any] = {
            "actor": actor[:255],
            "actor_name": actor_name[:255],
            "action": action,
            "method": method,
            "path": path[:1024],
            "status": status,
            "outcome": outcome or (outcome_of(status) if status else "ok"),
            "latency_ms": round(latency_ms, 1),
            "query": None if query is None or self.hash_queries else query,
            "query_hash": self.query_hash(query) if query is not None else None,
            "documents": list(dict.fromkeys(documents)),
            "chunks": list(dict.fromkeys(chunks)),
            "detail": detail,
        }
        with self.database.session() as session:
            event = session.get(AuditEvent, event_id) if event_id is not None else None
            if event is None:
                return AuditRepository(session).add(AuditEvent(**values))
            for name, value in values.items():
                setattr(event, name, value)
            session.flush()
            return event

    def purge(self) -> int:
        """Delete events past the retention period (none when it is 0)."""
        if self.retention_days <= 0:
            return 0
        with self.database.session() as session:
            return AuditRepository(session).purge(utcnow() - timedelta(days=self.retention_days))


async def purge_loop(recorder: AuditRecorder, every: float = PURGE_EVERY) -> None:
    """Purge now and then every `every` seconds, until cancelled."""
    while True:
        try:
            gone = await asyncio.to_thread(recorder.purge)
            if gone:
                log.info(
                    "audit: purged %d events older than %d days", gone, recorder.retention_days
                )
        except Exception:
            log.exception("audit purge failed")
        await asyncio.sleep(every)


def record_command(database: Database, settings: Settings, action: str, **detail: Any) -> None:
    """Audit an administrator's command (`enclave keys create|revoke`): the actor is the
    operating-system account that ran it."""
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # no name for this uid (containers)
        user = "unknown"
    AuditRecorder(database, settings).record(
        actor=f"cli:{user}", actor_name=user, action=action, method="CLI", detail=detail
    )


def parse_since(text: str | None) -> datetime | None:
    """An ISO 8601 date or time (UTC when no zone is given), for `since` filters; a
    ValueError saying what is expected otherwise."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"an ISO 8601 date or time, like 2024-01-01, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
