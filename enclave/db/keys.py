"""Stored API keys: add, find by their public prefix, list, revoke, note their use."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from enclave.db.models import ApiKey, utcnow


class KeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        self.session.flush()
        return key

    def by_prefix(self, prefix: str) -> ApiKey | None:
        return self.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))

    def find(self, name_or_prefix: str) -> Sequence[ApiKey]:
        """Keys whose name, prefix or id is `name_or_prefix` (a name may be shared)."""
        return self.session.scalars(
            select(ApiKey).where(
                (ApiKey.name == name_or_prefix)
                | (ApiKey.prefix == name_or_prefix)
                | (ApiKey.id == name_or_prefix)
            )
        ).all()

    def list(self) -> Sequence[ApiKey]:
        return self.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.name)).all()

    def revoke(self, key: ApiKey) -> None:
        if key.revoked_at is None:
            key.revoked_at = utcnow()

    def touch(self, key_id: str, moment: datetime) -> None:
        """Record a use (a plain UPDATE: no row is loaded)."""
        self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(last_used_at=moment)
            .execution_options(synchronize_session=False)
        )
