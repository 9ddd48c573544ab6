"""Alembic creates every table, matching the models, on SQLite and PostgreSQL."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from enclave.db import Base, Database, Document, DocumentStatus
from enclave.db.documents import DocumentRepository
from enclave.db.migrate import downgrade, upgrade
from enclave.db.session import prepare_url


def test_upgrade_creates_tables_matching_the_models(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine(prepare_url(database_url))
    try:
        assert "documents" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_upgrade_is_repeatable_and_downgrade_drops(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # a second run is a no-op
    downgrade(database_url, "base")
    engine = create_engine(prepare_url(database_url))
    try:
        assert "documents" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    upgrade(database_url)


def test_repository_round_trip(database_url: str) -> None:
    upgrade(database_url)
    database = Database(database_url)
    try:
        with database.session() as session:
            repository = DocumentRepository(session)
            added = repository.add(
                Document(source_path="/docs/a_b%c.md", groups=["hr"], size=3, mtime=1.5)
            )
            repository.add(Document(source_path="/docs/sub/d.md"))
            repository.add(Document(source_path="/docsother/e.md"))
        with database.session() as session:
            repository = DocumentRepository(session)
            loaded = repository.by_path("/docs/a_b%c.md")
            assert loaded is not None and loaded.id == added.id
            assert loaded.status == DocumentStatus.PENDING and loaded.groups == ["hr"]
            # LIKE wildcards in paths are escaped; a sibling folder sharing the prefix is not under.
            under = {d.source_path for d in repository.under(Path("/docs"))}
            assert under == {"/docs/a_b%c.md", "/docs/sub/d.md"}
            assert repository.count_by_status() == {DocumentStatus.PENDING: 3}
    finally:
        database.dispose()
