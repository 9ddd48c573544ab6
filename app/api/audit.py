"""GET /api/audit: the audit trail, for administrators."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.exceptions import ValidationException
from litestar.params import Parameter

from app.security.auth import requires, sees_every_group
from app.security.routes import audited
from app.services import Services
from enclave.access.audit import parse_since
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


def since_param(text: str | None) -> datetime | None:
    """`parse_since`, or a 400 saying what is expected."""
    try:
        return parse_since(text)
    except ValueError as error:
        raise ValidationException(f"'since' must be {error}") from None


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]

    @get(guards=[requires("admin"), sees_every_group], opt=audited("audit_read"))
    async def list_events(
        self,
        services: Services,
        since: Annotated[
            str | None, Parameter(description="Events at or after (ISO 8601 date or time).")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=10_000)] = 1000,
    ) -> AuditList:
        """Audit events, oldest first: who searched, asked, uploaded, deleted or changed
        permissions, when, with which documents and outcome. Needs the 'admin' scope and every
        group: the events hold the questions and documents of all groups."""
        moment = since_param(since)

        def read() -> list[AuditEventOut]:
            with services.database.session() as session:
                rows = AuditRepository(session).since(moment, limit)
                return [AuditEventOut.from_model(e) for e in rows]

        return AuditList(events=await asyncio.to_thread(read))
