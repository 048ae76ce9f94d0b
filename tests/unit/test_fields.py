from tap_voucherify_exports.fields import TABLES, FieldType
from tap_voucherify_exports.records import CONVERTERS
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
