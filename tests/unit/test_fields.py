import pytest

from tap_voucherify_exports.fields import TABLES, FieldType, LabelSource, normalised
from tap_voucherify_exports.parsing.converters import CONVERTERS
from tap_voucherify_exports.schemas import JSON_TYPES, schema_for


def test_every_field_type_has_a_schema_type_and_a_converter():
    assert set(JSON_TYPES) == set(FieldType)
    assert set(CONVERTERS) == set(FieldType)


def test_no_table_repeats_a_key_or_a_label():
    for table in TABLES.values():
        assert len(set(table.keys)) == len(table.keys), table.exported_object
        labels = [field.label for field in table.fields]
        assert len(set(labels)) == len(labels), table.exported_object


def test_tables_include_the_fields_added_by_the_current_spec():
    assert {"formula", "discount_effect", "validation_rules_id", "customer_source_id"} <= set(
        TABLES["voucher"].keys
    )
    assert {"customer_name", "order_id", "customer_source_id"} <= set(TABLES["redemption"].keys)
    assert "status" in TABLES["points_expiration"].keys


def test_schema_types_follow_the_table():
    properties = schema_for(TABLES["voucher"])["properties"]
    assert properties["value"]["type"] == ["number", "null"]
    assert properties["redemption_count"]["type"] == ["integer", "null"]
    assert properties["active"]["type"] == ["boolean", "null"]
    assert properties["created_at"]["format"] == "date-time"
    assert properties["metadata"]["type"] == ["object", "null"]
    assert properties["validity_day_of_week"]["items"]["type"] == ["integer"]
    customer = schema_for(TABLES["customer"])["properties"]
    assert customer["birthdate"]["format"] == "date"


def test_no_two_fields_of_a_table_share_a_normalised_key_or_label():
    # Header cells are matched through `normalised`: a shared name would resolve to neither.
    for table in TABLES.values():
        names: dict[str, str] = {}
        for field in table.fields:
            for name in {normalised(field.key), normalised(field.label)}:
                assert names.setdefault(name, field.key) == field.key, (table, name)


def test_labels_say_where_they_come_from():
    voucher = TABLES["voucher"]
    assert voucher.field("voucher_type").label_source is LabelSource.CONFIRMED
    assert voucher.field("discount_type").label_source is LabelSource.DASHBOARD
    assert TABLES["redemption"].field("order_id").label_source is LabelSource.DASHBOARD
    assert TABLES["customer"].field("email").label_source is LabelSource.INFERRED


def test_metadata_fields_are_added_per_stream_with_their_record_property():
    table = TABLES["order"].with_metadata({"region": FieldType.INTEGER})
    field = table.field("metadata.region")
    assert (field.type, field.property_name) == (FieldType.INTEGER, "metadata__region")
    assert TABLES["order"].with_metadata({}) is TABLES["order"]
    with pytest.raises(ValueError, match="points_expiration exports have no metadata"):
        TABLES["points_expiration"].with_metadata({"x": FieldType.STRING})
