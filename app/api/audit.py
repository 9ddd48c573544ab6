"""GET /api/audit: the audit trail, for administrators."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.exceptions import ValidationException
from litestar.params import Parameter

from app.security import requires
from app.services import Services
from enclave.db import AuditEvent
from enclave.db.audit import AuditRepository


class AuditEventOut(msgspec.Struct):
    id: str
    created_at: str
    actor: str
    actor_name: str
    action: str
    method: str
    path: str
    status: int
    outcome: str
    latency_ms: float
    query: str | None
    query_hash: str | None
    documents: list[str]
    chunks: list[str]
    detail: dict[str, Any]

    @classmethod
    def from_model(cls, e: AuditEvent) -> "AuditEventOut":
        moment = e.created_at if e.created_at.tzinfo else e.created_at.replace(tzinfo=UTC)
        return cls(
            e.id, moment.isoformat(), e.actor, e.actor_name, e.action, e.method, e.path,
            e.status, e.outcome, e.latency_ms, e.query, e.query_hash, list(e.documents),
            list(e.chunks), dict(e.detail),
        )  # fmt: skip


class AuditList(msgspec.Struct):
    events: list[AuditEventOut]


def parse_since(text: str | None) -> datetime | None:
    """An ISO 8601 date or time (UTC when no zone is given), or a 400 saying so."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationException(
            f"'since' must be an ISO 8601 date or time, like 2024-01-01, not {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]

    @get(guards=[requires("admin")])
    async def list_events(
        self,
        services: Services,
        since: Annotated[
            str | None, Parameter(description="Events at or after (ISO 8601 date or time).")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=10_000)] = 1000,
    ) -> AuditList:
        """Audit events, oldest first: who searched, asked, uploaded, deleted or changed
        permissions, when, with which documents and outcome. Needs the 'admin' scope."""
        moment = parse_since(since)

        def read() -> list[AuditEventOut]:
            with services.database.session() as session:
                rows = AuditRepository(session).since(moment, limit)
                return [AuditEventOut.from_model(e) for e in rows]

        return AuditList(events=await asyncio.to_thread(read))
