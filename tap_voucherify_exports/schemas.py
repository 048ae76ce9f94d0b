"""Field table → JSON schema."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from tap_voucherify_exports.fields import ExportedObjectTable, FieldType

JSON_TYPES: dict[FieldType, th.JSONTypeHelper[Any]] = {
    FieldType.STRING: th.StringType(),
    FieldType.INTEGER: th.IntegerType(),
    FieldType.NUMBER: th.NumberType(),
    FieldType.BOOLEAN: th.BooleanType(),
    FieldType.DATE: th.DateType(),
    FieldType.DATE_TIME: th.DateTimeType(),
    # Metadata keys are user-defined, so the object is open, and declares no `properties` at
    # all: singer-sdk's flattening (and a target's own) reads `"properties": {}` as an object
    # with no keys and leaves no column for it, while one without `properties` becomes one
    # JSON-text column, which its records carry (tests/integration/test_flattening.py). JSON
    # Schema validates both alike.
    FieldType.OBJECT: th.CustomType({"type": ["object"], "additionalProperties": True}),
    FieldType.INTEGER_LIST: th.ArrayType(th.IntegerType()),
}


def schema_for(table: ExportedObjectTable) -> dict[str, Any]:
    """The stream schema: every field nullable, since any CSV cell may be empty."""
    properties = [
        th.Property(field.property_name, JSON_TYPES[field.type]) for field in table.fields
    ]
    return th.PropertiesList(*properties).to_dict()
