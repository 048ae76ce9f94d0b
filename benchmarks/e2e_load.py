"""Part 5 of `make bench`: the tap end to end into PostgreSQL and DuckDB, against each
database's own bulk load of the same rows (issue 22, §1).

Every pipeline is the two processes `meltano run` starts (the installed tap and the loader from
`.meltano/loaders/`, one OS pipe between them), without meltano itself. Each is timed from the
tap's start to the target's exit, and compared with what the database does alone with the same
rows, measured in the same run:

- PostgreSQL: `COPY … FROM STDIN` (text format, built beforehand from the tap's own records) into
  a table with the columns and types target-postgres created;
- DuckDB: `CREATE TABLE … AS SELECT … FROM read_json(…)` of the tap's records (a JSON-lines file),
  with the column types target-duckdb created.

A ratio is baseline seconds / pipeline seconds (1 = as fast as the database alone). Variants run
interleaved, `reps` times each, and the median is kept. Every load is checked: its row count
and a checksum (md5 of the data columns of every row, `_sdc_*` left out) must equal the
baseline's (numbers compared by value, JSON cells re-serialized). Skipped when PostgreSQL is
unreachable or a loader is not installed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import simplejson
import yaml

from voucherify_emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
LOADERS = ROOT / ".meltano" / "loaders"
TARGET_POSTGRES = LOADERS / "target-postgres" / "venv" / "bin" / "target-postgres"
TARGET_DUCKDB = LOADERS / "target-duckdb" / "venv" / "bin" / "target-duckdb"
STREAM = "vouchers"
BATCH_ROWS = 10_000  # rows per BATCH file in the recipe (docs/loaders.md)
# target-postgres 0.8.1's connection settings; everything else in meltano.yml's `config` is the
# tuning this part measures.
CONNECTION = ("host", "port", "user", "password", "database", "default_target_schema")

Log = Callable[[str], None]
Target = Callable[[str, str, bool | None], str]


def shipped_config(loader: str) -> dict[str, Any]:
    """The loader's `config` in meltano.yml (the project-wide one, not an environment's)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    plugin = next(p for p in project["plugins"]["loaders"] if p["name"] == loader)
    return dict(plugin.get("config") or {})


def postgres_settings() -> dict[str, Any]:
    env = os.environ
    return {
        "host": env.get("PGHOST", "127.0.0.1"),
        "port": int(env.get("PGPORT", "5432")),
        "user": env.get("PGUSER", "postgres"),
        "password": env.get("PGPASSWORD", "postgres"),
        "database": env.get("PGDATABASE", "voucherify"),
    }


def connect() -> Any:
    import psycopg  # noqa: PLC0415 - the test extra's; only this part needs it

    settings = postgres_settings()
    return psycopg.connect(
        host=settings["host"],
        port=settings["port"],
        user=settings["user"],
        password=settings["password"],
        dbname=settings["database"],
        autocommit=True,
    )


def unavailable() -> str | None:
    """Why this part cannot run here, or None."""
    for executable in (TARGET_POSTGRES, TARGET_DUCKDB):
        if not executable.exists():
            return f"{executable} is missing (`meltano install loader` installs it)"
    try:
        connect().close()
    except Exception as error:
        return f"PostgreSQL is unreachable ({type(error).__name__}: {error})"
    return None


def pipe(tap: list[str], target: list[str], stderr_dir: Path, label: str) -> dict[str, Any]:
    """tap | target; wall seconds and each side's CPU seconds (`os.wait4`, exact)."""
    started = time.perf_counter()
    with (
        (stderr_dir / f"{label}.tap.err").open("wb") as tap_err,
        (stderr_dir / f"{label}.target.err").open("wb") as target_err,
    ):
        tap_proc = subprocess.Popen(tap, stdout=subprocess.PIPE, stderr=tap_err)
        loader = subprocess.Popen(
            target, stdin=tap_proc.stdout, stdout=subprocess.DEVNULL, stderr=target_err
        )
        assert tap_proc.stdout is not None
        tap_proc.stdout.close()
        _, tap_status, tap_usage = os.wait4(tap_proc.pid, 0)
        _, loader_status, loader_usage = os.wait4(loader.pid, 0)
    tap_proc.returncode, loader.returncode = tap_status, loader_status  # reaped by wait4
    wall = time.perf_counter() - started
    if tap_status or loader_status:
        tail = (stderr_dir / f"{label}.target.err").read_text(errors="replace")[-3000:]
        raise SystemExit(f"{label}: tap exit {tap_status}, target exit {loader_status}\n{tail}")
    return {
        "wall_s": wall,
        "tap_cpu_s": tap_usage.ru_utime + tap_usage.ru_stime,
        "target_cpu_s": loader_usage.ru_utime + loader_usage.ru_stime,
    }


# --- checks -----------------------------------------------------------------------------------
def pg_columns(conn: Any, schema: str) -> list[tuple[str, str]]:
    """(name, type) of the data columns of `schema`.vouchers, `_sdc_*` left out."""
    rows = conn.execute(
        "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns"
        " JOIN pg_attribute ON attrelid = (quote_ident(table_schema) || '.' ||"
        " quote_ident(table_name))::regclass AND attname = column_name"
        " WHERE table_schema = %s AND table_name = %s ORDER BY column_name",
        (schema, STREAM),
    ).fetchall()
    return [(name, kind) for name, kind in rows if not name.startswith("_sdc_")]


def pg_primary_key(conn: Any, schema: str) -> str:
    """The primary key clause of `schema`.vouchers as target-postgres created it, or ''."""
    row = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'p'",
        (f'"{schema}"."{STREAM}"',),
    ).fetchone()
    return row[0] if row else ""


def pg_check(conn: Any, schema: str, columns: list[tuple[str, str]]) -> tuple[int, str]:
    """Row count and md5 of the data columns of every row, in a fixed order. Numbers compare by
    value (`trim_scale`): target-postgres' COPY path writes 3800.00 as 3800.0 (docs/loaders.md)."""
    cols = ", ".join(
        f'trim_scale("{name}") AS "{name}"' if kind == "numeric" else f'"{name}"'
        for name, kind in columns
    )
    count, digest = conn.execute(
        f"SELECT count(*), md5(string_agg(r::text, E'\\n' ORDER BY r::text))"
        f' FROM (SELECT {cols} FROM "{schema}"."{STREAM}") r'
    ).fetchone()
    return count, digest


def duck_columns(path: Path, table: str) -> list[tuple[str, str]]:
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(f"DESCRIBE {table}").fetchall()
    return [(row[0], row[1]) for row in rows if not row[0].startswith("_sdc_")]


def duck_check(path: Path, table: str, columns: list[tuple[str, str]]) -> tuple[int, str]:
    """As `pg_check`; JSON cells (text in DuckDB, as each writer spelled them) re-serialized."""
    import duckdb  # noqa: PLC0415

    cols = ", ".join(
        f'json("{name}") AS "{name}"' if kind == "JSON" else f'"{name}"' for name, kind in columns
    )
    with duckdb.connect(str(path), read_only=True) as conn:
        count, digest = conn.execute(
            f"SELECT count(*), md5(string_agg(CAST(r AS VARCHAR), chr(10)"
            f" ORDER BY CAST(r AS VARCHAR))) FROM (SELECT {cols} FROM {table}) r"
        ).fetchone()
    return count, digest


# --- baselines --------------------------------------------------------------------------------
def copy_text(records_path: Path, columns: list[tuple[str, str]]) -> bytes:
    """The records as PostgreSQL's COPY text format, `columns` (name, type) in order; numbers
    keep their digits (simplejson's decimals, as the target reads them)."""

    def cell(value: Any, kind: str) -> str:
        if value is None:  # target-postgres writes a null object as JSON null (docs/loaders.md)
            return "null" if kind == "jsonb" else "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, list) and kind.endswith("[]"):
            value = "{" + ",".join(str(item) for item in value) + "}"
        elif isinstance(value, dict | list):
            value = simplejson.dumps(value, separators=(",", ":"), use_decimal=True)
        text = str(value)
        for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            text = text.replace(raw, escaped)
        return text

    lines = []
    with records_path.open(encoding="utf-8") as handle:
        for line in handle:
            record = simplejson.loads(line, use_decimal=True)
            lines.append("\t".join(cell(record.get(name), kind) for name, kind in columns))
    return ("\n".join(lines) + "\n").encode()


def pg_copy(
    conn: Any, schema: str, columns: list[tuple[str, str]], primary_key: str, data: bytes
) -> float:
    """Seconds for `COPY … FROM STDIN` of `data` into a fresh `schema`.vouchers with `columns`
    and `primary_key`."""
    parts = [f'"{name}" {kind}' for name, kind in columns]
    definition = ", ".join([*parts, primary_key] if primary_key else parts)
    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.execute(f'CREATE SCHEMA "{schema}"')
    conn.execute(f'CREATE TABLE "{schema}"."{STREAM}" ({definition})')
    names = ", ".join(f'"{name}"' for name, _ in columns)
    started = time.perf_counter()
    with (
        conn.cursor() as cursor,
        cursor.copy(f'COPY "{schema}"."{STREAM}" ({names}) FROM STDIN') as copy,
    ):
        for offset in range(0, len(data), 1 << 20):
            copy.write(data[offset : offset + (1 << 20)])
    return time.perf_counter() - started


def duck_read_json(path: Path, records_path: Path, columns: list[tuple[str, str]]) -> float:
    """Seconds for `CREATE TABLE … AS SELECT * FROM read_json(…)` of the records, typed."""
    import duckdb  # noqa: PLC0415

    path.unlink(missing_ok=True)
    spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns) + "}"
    with duckdb.connect(str(path)) as conn:
        started = time.perf_counter()
        conn.execute(
            f"CREATE TABLE {STREAM} AS SELECT * FROM read_json("
            f"'{records_path}', format = 'newline_delimited', columns = {spec})"
        )
        return time.perf_counter() - started


# --- the part ---------------------------------------------------------------------------------
def part_load(  # noqa: PLR0915 - one measurement, read top to bottom
    workdir: Path,
    *,
    prepare: Callable[[Emulator], tuple[str, str, dict[str, Any]]],
    log: Log,
    target: Target,
    rows: int,
    reps: int,
) -> str:
    heading = f"## 5. End to end: tap | target, {rows:,} vouchers, against the database alone"
    why = unavailable()
    if why:
        log(f"part 5 skipped: {why}")
        return f"{heading}\n\nSkipped: {why}."
    work = workdir / "e2e-load"
    work.mkdir(exist_ok=True)
    conn = connect()
    tag = f"bench_{os.getpid()}"
    shipped_pg = shipped_config("target-postgres")
    shipped_duck = shipped_config("target-duckdb")

    def pg_config(name: str, schema: str, tuned: bool) -> str:
        config = {**postgres_settings(), "default_target_schema": schema}
        if tuned:
            config |= {k: v for k, v in shipped_pg.items() if k not in CONNECTION}
        path = work / f"{name}.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        return str(path)

    def duck_config(name: str, database: Path) -> str:
        config = {**shipped_duck, "path": str(database), "default_target_schema": "voucherify"}
        path = work / f"{name}.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        return str(path)

    with Emulator(seed=7, rows={"voucher": rows}, job_latency_seconds=0.05) as emu:
        tap_config, catalog, config = prepare(emu)
        tap = [str(Path(sys.executable).parent / "tap-voucherify-exports"), "--catalog", catalog]
        batch_dir = work / "batches"
        batch_config = work / "tap-batch.json"
        batch_config.write_text(json.dumps({**config, "batch_config": {
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": batch_dir.as_uri()}, "batch_size": BATCH_ROWS}}))  # fmt: skip

        # The tap's records, once, for the baselines (not timed).
        records_path = work / "records.jsonl"
        with records_path.open("wb") as out:
            lines = subprocess.run(
                [*tap, "--config", tap_config], capture_output=True, check=True
            ).stdout.splitlines()
            for line in lines:  # the record object as the tap wrote it, digits untouched
                if line.startswith(b'{"type":"RECORD"'):
                    start = line.index(b'"record":') + len(b'"record":')
                    out.write(line[start : line.rindex(b',"time_extracted"')] + b"\n")
        del lines
        log(f"part 5: {rows:,} records written for the baselines")

        variants: dict[str, Callable[[int], dict[str, Any]]] = {}

        def pg_variant(name: str, tuned: bool, batch: bool) -> None:
            def run(rep: int) -> dict[str, Any]:
                schema = f"{tag}_{name.replace('-', '_')}_{rep}"
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                config = str(batch_config) if batch else tap_config
                result = pipe(
                    [*tap, "--config", config],
                    [str(TARGET_POSTGRES), "--config", pg_config(name, schema, tuned)],
                    work,
                    f"{name}-{rep}",
                )
                result["columns"] = pg_columns(conn, schema)
                result["check"] = pg_check(conn, schema, result["columns"])
                result["primary_key"] = pg_primary_key(conn, schema)
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                for path in batch_dir.glob("*.jsonl.gz"):
                    path.unlink()
                return result

            variants[name] = run

        def duck_run(rep: int) -> dict[str, Any]:
            database = work / f"duckdb-{rep}.duckdb"
            database.unlink(missing_ok=True)
            result = pipe(
                [*tap, "--config", tap_config],
                [str(TARGET_DUCKDB), "--config", duck_config(f"duckdb-{rep}", database)],
                work,
                f"duckdb-{rep}",
            )
            table = f"voucherify.{STREAM}"
            result["columns"] = duck_columns(database, table)
            result["check"] = duck_check(database, table, result["columns"])
            database.unlink()
            return result

        def tap_alone(rep: int) -> dict[str, Any]:
            return pipe([*tap, "--config", tap_config], ["cat"], work, f"tap-{rep}") | {
                "check": None
            }

        pg_variant("pg-defaults", tuned=False, batch=False)
        pg_variant("pg-shipped", tuned=True, batch=False)
        pg_variant("pg-batch", tuned=True, batch=True)
        variants["duckdb"] = duck_run
        variants["tap"] = tap_alone

        results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        baselines: dict[str, list[float]] = {"copy": [], "read_json": []}
        copy_data: bytes | None = None
        pg_cols: list[tuple[str, str]] = []
        pg_key = ""
        duck_cols: list[tuple[str, str]] = []
        expected: dict[str, tuple[int, str]] = {}
        for rep in range(1, reps + 1):
            for name, run in variants.items():
                result = run(rep)
                results[name].append(result)
                log(
                    f"  {name} #{rep}: wall {result['wall_s']:.1f} s, tap CPU "
                    f"{result['tap_cpu_s']:.1f} s, target CPU {result['target_cpu_s']:.1f} s"
                )
                if name == "pg-shipped" and copy_data is None:
                    pg_cols, pg_key = result["columns"], result["primary_key"]
                    copy_data = copy_text(records_path, pg_cols)
                if name == "duckdb" and not duck_cols:
                    duck_cols = result["columns"]
            assert copy_data is not None
            schema = f"{tag}_copy"
            baselines["copy"].append(pg_copy(conn, schema, pg_cols, pg_key, copy_data))
            expected["pg"] = pg_check(conn, schema, pg_cols)
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            database = work / "read_json.duckdb"
            baselines["read_json"].append(duck_read_json(database, records_path, duck_cols))
            expected["duckdb"] = duck_check(database, STREAM, duck_cols)
            log(
                f"  COPY #{rep}: {baselines['copy'][-1]:.2f} s; read_json #{rep}: "
                f"{baselines['read_json'][-1]:.2f} s"
            )
    conn.close()

    # Correctness: every load holds exactly the baseline's rows.
    for name, runs in results.items():
        want = None if name == "tap" else expected["duckdb" if name == "duckdb" else "pg"]
        for result in runs:
            if result["check"] != want:
                raise SystemExit(f"{name}: loaded {result['check']}, expected {want}")
    if expected["pg"][0] != rows or expected["duckdb"][0] != rows:
        raise SystemExit(f"baselines hold {expected}, expected {rows:,} rows")

    copy_s = statistics.median(baselines["copy"])
    read_json_s = statistics.median(baselines["read_json"])
    names = {
        "tap": ("tap alone (stdout to `cat`)", copy_s, "COPY"),
        "pg-defaults": ("tap \\| target-postgres 0.8.1, its defaults", copy_s, "COPY"),
        "pg-shipped": (
            "tap \\| target-postgres as `meltano.yml` ships it ("
            + ", ".join(f"`{k}: {json.dumps(v)}`" for k, v in shipped_pg.items()
                        if k not in CONNECTION) + ")",
            copy_s, "COPY",
        ),
        "pg-batch": (
            f"tap `batch_config` (jsonl.gz, {BATCH_ROWS:,} rows a file) \\| target-postgres as "
            "shipped", copy_s, "COPY",
        ),
        "duckdb": ("tap \\| target-duckdb 0.8.0 as shipped", read_json_s, "read_json"),
    }  # fmt: skip
    lines = [
        heading,
        "",
        "The installed tap and loader joined by one OS pipe, as `meltano run` starts them; wall "
        "from the tap's start to the target's exit; CPU per process from `os.wait4`. Medians "
        f"of {reps} interleaved runs. Ratio = the database's own load of the same rows "
        "(PostgreSQL `COPY … FROM STDIN`, DuckDB `read_json`, timed in the same run) / the "
        "pipeline's wall. Every load checked: row count and md5 of all data columns (numbers "
        "by value, JSON re-serialized) equal the baseline's.",
        "",
        "| pipeline | wall s (median) | all runs s | tap CPU s | target CPU s | ÷ database alone |",
        "|---|--:|---|--:|--:|--:|",
    ]
    ratios: dict[str, float] = {}
    for name in ("tap", "pg-defaults", "pg-shipped", "pg-batch", "duckdb"):
        label, base, _ = names[name]
        runs = results[name]
        wall = statistics.median(r["wall_s"] for r in runs)
        ratios[name] = base / wall
        walls = ", ".join(f"{r['wall_s']:.1f}" for r in runs)
        lines.append(
            f"| {label} | {wall:.1f} | {walls} | "
            f"{statistics.median(r['tap_cpu_s'] for r in runs):.1f} | "
            f"{statistics.median(r['target_cpu_s'] for r in runs):.1f} | {ratios[name]:.3f} |"
        )
    shipped, batch, duck = (f"{ratios[k]:.3f}" for k in ("pg-shipped", "pg-batch", "duckdb"))
    lines += [
        f"| PostgreSQL `COPY … FROM STDIN` of the same rows | {copy_s:.2f} | "
        f"{', '.join(f'{s:.2f}' for s in baselines['copy'])} | | | 1 |",
        f"| DuckDB `read_json` of the same rows | {read_json_s:.2f} | "
        f"{', '.join(f'{s:.2f}' for s in baselines['read_json'])} | | | 1 |",
        "",
        f"- shipped PostgreSQL setup ÷ COPY = **{shipped}** (target ≥ 0.07: "
        + target("tap | target-postgres as shipped ≥ 0.07 x COPY", shipped,
                 ratios["pg-shipped"] >= 0.07)
        + f"); its defaults {ratios['pg-defaults']:.3f}: "
        f"{ratios['pg-shipped'] / ratios['pg-defaults']:.1f} x faster as shipped",
        f"- BATCH recipe ÷ COPY = **{batch}** (target ≥ 0.09: "
        + target("BATCH recipe | target-postgres ≥ 0.09 x COPY", batch, ratios["pg-batch"] >= 0.09)
        + ")",
        f"- tap | target-duckdb ÷ read_json = **{duck}** ("
        + target("tap | target-duckdb ÷ read_json", duck, None) + ")",
    ]  # fmt: skip
    return "\n".join(lines)
