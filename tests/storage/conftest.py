"""Storage fixtures: one real PostgreSQL server per test session (tests/pg.py), a fresh
database per test, and `accounts` parametrized over both engines so the same store tests run
on SQLite files and on PostgreSQL with row-level security."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from os1.config import Config, load_config
from os1.storage import Accounts
from tests.pg import DatabaseUrls, PostgresServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture
def pg_urls(pg_server: PostgresServer) -> DatabaseUrls:
    return pg_server.new_database()


@pytest.fixture
def pg_config(home: Path, pg_urls: DatabaseUrls, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("OS1_DATABASE_URL", pg_urls.app_url)
    monkeypatch.setenv("OS1_DATABASE_OWNER_URL", pg_urls.owner_url)
    return load_config()


@pytest.fixture(params=["sqlite", "postgres"])
def engine_config(request: pytest.FixtureRequest, home: Path) -> Config:
    if request.param == "postgres":
        config: Config = request.getfixturevalue("pg_config")
        return config
    return load_config()


@pytest.fixture
def accounts(engine_config: Config) -> Iterator[Accounts]:
    opened = Accounts.open(engine_config)
    yield opened
    opened.close()
