"""The Alembic migrations, on each database the suite runs on: they build exactly the schema the models
describe, and every one of them can be undone and done again (an upgrade that goes wrong is rolled back)."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory

from bot.db import _alembic_config, upgrade_database
from tests.database import SQLITE, TestDatabase


def tables(database: TestDatabase) -> set[str]:
    if database.kind == SQLITE:
        query = "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
    else:
        query = "select tablename from pg_tables where schemaname = 'public'"
    return {row[0] for row in database.rows(query)}


def test_the_migrations_build_the_schema_of_the_models(unmigrated_database: TestDatabase):
    upgrade_database(unmigrated_database.app_url)

    command.check(_alembic_config(unmigrated_database.app_url))  # raises when models and schema differ


def test_every_migration_can_be_undone_and_done_again(unmigrated_database: TestDatabase):
    config = _alembic_config(unmigrated_database.app_url)
    upgrade_database(unmigrated_database.app_url)
    migrated = tables(unmigrated_database)
    revisions = [script.revision for script in ScriptDirectory.from_config(config).walk_revisions()]

    command.downgrade(config, "base")
    emptied = tables(unmigrated_database)
    upgrade_database(unmigrated_database.app_url)

    assert len(revisions) >= 6
    assert emptied == {"alembic_version"}, "down to nothing"
    assert tables(unmigrated_database) == migrated
    assert {"contacts", "leads", "followups", "deliveries", "outbox", "webhook_events"} <= migrated
