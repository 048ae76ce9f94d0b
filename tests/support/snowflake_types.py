"""Run by target-snowflake's own Python: the Snowflake column type of every property.

    .meltano/loaders/target-snowflake/venv/bin/python tests/support/snowflake_types.py \
        < schemas.json

stdin: ``{"<stream>": <JSON schema>, ...}``, as the tap's SCHEMA messages carry them; stdout:
``{"<stream>": {"<property>": "<Snowflake type>", ...}, ...}``. Types come from the target's own
connector, `SnowflakeConnector.to_sql_type` — what its CREATE TABLE / ALTER TABLE and the
``$1:<column>::<type>`` casts of its MERGE and COPY INTO statements use — compiled with the
Snowflake SQLAlchemy dialect. Nothing connects to Snowflake. (fakesnow cannot host the target's
load path — PUT into the user stage ``@~``, a staged-file SELECT inside MERGE, REMOVE — see
docs/loaders.md, "Snowflake".) Settings (e.g. ``timestamp_type``) may be given as one JSON
object in the first argument.
"""

from __future__ import annotations

import json
import sys

from snowflake.sqlalchemy.snowdialect import SnowflakeDialect
from target_snowflake.connector import SnowflakeConnector

# Only what the connector's constructor requires; no engine is created for type mapping.
CONNECTION = {"account": "unused", "user": "unused", "password": "unused", "database": "UNUSED"}


def main() -> None:
    settings = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    connector = SnowflakeConnector(config=CONNECTION | settings)
    dialect = SnowflakeDialect()
    schemas = json.load(sys.stdin)
    types = {
        stream: {
            name: str(connector.to_sql_type(prop).compile(dialect=dialect))
            for name, prop in schema["properties"].items()
        }
        for stream, schema in schemas.items()
    }
    json.dump(types, sys.stdout)


if __name__ == "__main__":
    main()
