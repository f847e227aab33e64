"""Run Alembic from code: the CLI's `migrate` and the tests use the same path."""

from alembic import command
from alembic.config import Config

from billing_portal.settings import PROJECT_ROOT


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if database_url:
        config.attributes["database_url"] = database_url
        config.attributes["configure_logger"] = False
    return config


def upgrade_to_head(database_url: str | None = None) -> None:
    command.upgrade(alembic_config(database_url), "head")
