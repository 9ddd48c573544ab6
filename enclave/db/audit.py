"""Stored audit events: add, read back in time order, purge the expired."""

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from enclave.db.models import AuditEvent


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: AuditEvent) -> AuditEvent:
        self.session.add(event)
        self.session.flush()
        return event

    def since(self, moment: datetime | None, limit: int | None = None) -> Sequence[AuditEvent]:
        """Events at or after `moment`, oldest first."""
        query = select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id)
        if moment is not None:
            query = query.where(AuditEvent.created_at >= moment)
        if limit is not None:
            query = query.limit(limit)
        return self.session.scalars(query).all()

    def stream(self, moment: datetime | None, batch: int = 1000) -> Iterator[AuditEvent]:
        """Every event since `moment`, read in batches (an export may be large)."""
        query = select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id)
        if moment is not None:
            query = query.where(AuditEvent.created_at >= moment)
        yield from self.session.scalars(query.execution_options(yield_per=batch))

    def purge(self, before: datetime) -> int:
        """Delete events older than `before`; how many went."""
        result = self.session.execute(
            delete(AuditEvent)
            .where(AuditEvent.created_at < before)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
