"""Run the Alembic migrations in `migrations/` against a database URL."""

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations
from enclave.db.session import prepare_url


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    # Alembic's ini interpolation treats '%' specially.
    config.set_main_option("sqlalchemy.url", prepare_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
