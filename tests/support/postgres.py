"""The end-to-end tests' PostgreSQL: where it is (libpq's PG* variables), whether it answers,
and reads of the schema a test's target-postgres loaded."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from tests.support.ci import unavailable
from tests.support.e2e_data import STREAMS

CONNECT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class PostgresSettings:
    """Connection settings from libpq's PG* environment variables."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = "postgres"
    database: str = "voucherify"

    @classmethod
    def from_env(cls) -> PostgresSettings:
        """Read PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE, with the defaults above."""
        env = os.environ
        return cls(
            host=env.get("PGHOST", cls.host),
            port=int(env.get("PGPORT", cls.port)),
            user=env.get("PGUSER", cls.user),
            password=env.get("PGPASSWORD", cls.password),
            database=env.get("PGDATABASE", cls.database),
        )

    @property
    def dsn(self) -> str:
        """libpq connection URI."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.database, safe='')}"
        )


def reachable_dsn() -> str:
    """URI of the test PostgreSQL, once a TCP connection to it succeeds and, where ``psql`` is on
    PATH, a ``SELECT 1`` with those credentials does; skips (fails under CI) otherwise."""
    settings = PostgresSettings.from_env()
    where = f"PostgreSQL at {settings.host}:{settings.port}"
    try:
        with socket.create_connection((settings.host, settings.port), CONNECT_TIMEOUT_SECONDS):
            pass
    except OSError as error:
        unavailable(f"{where} is not reachable ({error}); start it with scripts/start-postgres.sh")

    psql = shutil.which("psql")
    if psql:
        check = subprocess.run(
            [psql, settings.dsn, "--no-psqlrc", "--tuples-only", "--command=SELECT 1"],
            capture_output=True,
            text=True,
            timeout=CONNECT_TIMEOUT_SECONDS * 2,
            check=False,
        )
        if check.returncode != 0:
            unavailable(f"{where} refused {settings.user}@{settings.database}: {check.stderr}")
    return settings.dsn


def utc(value: object) -> object:
    """Postgres timestamps as aware UTC datetimes (naive `timestamp` columns are UTC)."""
    if isinstance(value, dt.datetime):
        return (
            value.replace(tzinfo=dt.timezone.utc)
            if value.tzinfo is None
            else value.astimezone(dt.timezone.utc)
        )
    return value


class Postgres:
    """Reads one schema of the test database."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema

    def query(
        self, query: sql.Composable | str, params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            # The session time zone must not shift `timestamp without time zone` values.
            conn.execute("SET TIME ZONE 'UTC'")
            cursor = conn.execute(query, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description is not None else []

    def tables(self) -> set[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (self.schema,),
        )
        return {name for (name,) in rows}

    def columns(self, table: str) -> dict[str, tuple[str, str]]:
        """column name -> (data_type, udt_name) from information_schema.columns."""
        rows = self.query(
            "SELECT column_name, data_type, udt_name FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            (self.schema, table),
        )
        return {name: (data_type, udt) for name, data_type, udt in rows}

    def _table(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    def keys(self, stream: str) -> list[tuple[object, ...]]:
        """Every row's primary key, duplicates kept."""
        return self.select(stream, list(STREAMS[stream].primary_key))

    def duplicate_keys(self, stream: str) -> list[tuple[Any, ...]]:
        """Primary keys held by more than one row (GROUP BY key HAVING count(*) > 1)."""
        columns = sql.SQL(", ").join(map(sql.Identifier, STREAMS[stream].primary_key))
        return self.query(
            sql.SQL(
                "SELECT {cols}, count(*) FROM {table} GROUP BY {cols} HAVING count(*) > 1"
            ).format(cols=columns, table=self._table(stream))
        )

    def select(self, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
        """Every row of `table`, those columns, timestamps as aware UTC datetimes."""
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        rows = self.query(sql.SQL("SELECT {} FROM {}").format(names, self._table(table)))
        return [tuple(utc(value) for value in row) for row in rows]

    def drop_schema(self) -> None:
        self.query(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))

    def count(self, stream: str) -> int:
        rows = self.query(sql.SQL("SELECT count(*) FROM {}").format(self._table(stream)))
        return int(rows[0][0])
