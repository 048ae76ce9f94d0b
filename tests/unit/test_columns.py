import io

import pytest

from tap_voucherify_exports.errors import CsvFormatError
from tap_voucherify_exports.fields import TABLES, FieldType
from tap_voucherify_exports.parsing.columns import Resolution, map_header
from tap_voucherify_exports.parsing.records import CsvRecordReader

VOUCHER = TABLES["voucher"]
REQUESTED = ("id", "code", "discount_type", "campaign_id")


def mapped(header, requested=REQUESTED, table=VOUCHER):
    column_map = map_header("vouchers", table, requested, header)
    return [(c.field.key, c.how.value) for c in column_map.columns], column_map.warning


def read(text, requested=REQUESTED, table=VOUCHER):
    warnings: list[str] = []
    reader = CsvRecordReader("vouchers", table, requested, warn=warnings.append)
    rows = list(reader.records(io.StringIO(text, newline="")))
    return rows, warnings


def test_labels_in_another_order_than_requested_are_mapped_by_name():
    # The example: by position this read discount_type "camp_9".
    rows, warnings = read("ID,Code,Campaign ID,Discount Type\nv1,C1,camp_9,AMOUNT\n")
    assert rows == [{"id": "v1", "code": "C1", "discount_type": "AMOUNT", "campaign_id": "camp_9"}]
    assert warnings == []


def test_keys_in_another_order_are_mapped_by_name():
    assert mapped(["campaign_id", "discount_type", "code", "id"])[0] == [
        ("campaign_id", "key"),
        ("discount_type", "key"),
        ("code", "key"),
        ("id", "key"),
    ]


def test_matching_ignores_case_spaces_and_punctuation():
    columns, _ = mapped(["  id ", "CODE", "discount-type", "Campaign_ID"])
    assert [key for key, _ in columns] == list(REQUESTED)
    columns, _ = mapped(["\ufeffIs Referral Code", "ID"], requested=("is_referral_code", "id"))
    assert columns == [("is_referral_code", "label"), ("id", "label")]


def test_unresolved_cells_at_requested_positions_are_mapped_by_position_with_one_warning():
    rows, warnings = read("ID,Kode,Rabatt,Campaign ID\nv1,C1,AMOUNT,camp_9\n")
    assert rows[0]["code"] == "C1"
    assert rows[0]["discount_type"] == "AMOUNT"
    assert len(warnings) == 1
    assert "Kode, Rabatt" in warnings[0]
    assert "by position to code, discount_type" in warnings[0]
    assert mapped(["ID", "Kode", "Rabatt", "Campaign ID"])[0][1] == ("code", "position")


def test_unresolved_cells_with_a_resolved_cell_out_of_place_fail_before_any_row():
    text = "ID,Code,Campaign ID,Rabatt\nv1,C1,camp_9,AMOUNT\n"
    with pytest.raises(
        CsvFormatError,
        match=r"Rabatt match no field.*Campaign ID are not at their requested position.*"
        r"Header seen: ID, Code, Campaign ID, Rabatt\. Requested fields: id, code, "
        r"discount_type, campaign_id\.",
    ):
        read(text)


def test_unresolved_cells_with_a_different_column_count_fail():
    with pytest.raises(CsvFormatError, match=r"5 columns for 4 requested fields"):
        read("ID,Code,X,Y,Z\nv1,C1,a,b,c\n")


def test_a_swapped_pair_of_string_columns_is_read_by_label_not_position():
    rows, _ = read("ID,Campaign ID,Discount Type,Code\nv1,camp_9,AMOUNT,C1\n")
    assert rows == [{"id": "v1", "code": "C1", "discount_type": "AMOUNT", "campaign_id": "camp_9"}]


def test_a_swapped_pair_whose_labels_do_not_resolve_is_refused():
    # `Kind` and `Ref` are unknown and a known label sits off its requested place: no guess.
    with pytest.raises(CsvFormatError, match="cannot tell which column holds which field"):
        read("ID,Campaign ID,Kind,Ref\nv1,camp_9,AMOUNT,C1\n", requested=REQUESTED)


def test_an_unrequested_known_column_is_named():
    with pytest.raises(CsvFormatError, match=r"unrequested field\(s\) value"):
        read("ID,Code,Discount Type,Campaign ID,Value\nv1,C,A,c,1\n")


def test_a_column_named_twice_is_refused():
    with pytest.raises(CsvFormatError, match=r"names `code` twice \(columns 2 and 3\)"):
        mapped(["ID", "Code", "code", "Campaign ID"])


def test_metadata_keys_resolve_by_key_and_by_label():
    table = VOUCHER.with_metadata({"region": FieldType.STRING, "tier": FieldType.INTEGER})
    columns, _ = mapped(
        ["metadata.tier", "ID", "Metadata Region"],
        requested=("id", "metadata.region", "metadata.tier"),
        table=table,
    )
    assert columns == [("metadata.tier", "key"), ("id", "label"), ("metadata.region", "label")]
    rows, _ = read(
        "Metadata Tier,ID,metadata.region\n3,v1,EU\n",
        requested=("id", "metadata.region", "metadata.tier"),
        table=table,
    )
    assert rows == [{"id": "v1", "metadata__region": "EU", "metadata__tier": 3}]


def test_metadata_split_into_per_key_columns_is_folded_into_the_object():
    table = VOUCHER.with_metadata({"Color": FieldType.STRING})
    rows, warnings = read(
        "ID,Metadata color,metadata.size,Metadata: note\nv1,red,,x\nv2,,,\n",
        requested=("id", "metadata"),
        table=table,
    )
    assert rows == [
        {"id": "v1", "metadata": {"Color": "red", "note": "x"}},
        {"id": "v2", "metadata": None},
    ]
    assert warnings == []
    column_map = map_header("vouchers", table, ("id", "metadata"), ["ID", "Metadata size"])
    assert [c.how for c in column_map.columns] == [Resolution.LABEL, Resolution.METADATA_KEY]


def test_metadata_as_bare_key_columns_is_folded_with_one_warning_naming_the_keys():
    # The issue's `ID,color,size`: `metadata` missing, every other requested field present.
    table = VOUCHER.with_metadata({"Tier": FieldType.INTEGER})
    requested = ("id", "code", "metadata")
    rows, warnings = read("ID,color,Code,size,tier\nv1,red,C1,,3\nv2,,C2,,\n", requested, table)
    assert rows == [
        {"id": "v1", "code": "C1", "metadata": {"color": "red", "Tier": "3"}},
        {"id": "v2", "code": "C2", "metadata": None},
    ]
    [warning] = warnings
    assert warning == (
        "vouchers: the export's header has no `metadata` column but every other requested "
        "field; its column(s) color, size, tier, which match no field, are taken as metadata "
        "keys and folded into the `metadata` object."
    )


def test_bare_columns_are_metadata_keys_only_when_every_other_requested_field_is_there():
    requested = ("id", "code", "metadata")
    # `code` missing too: the leftovers could be anything, so position decides (and item 1's
    # evidence check reads their cells before a record leaves).
    columns, warning = mapped(["ID", "color", "size"], requested)
    assert columns == [("id", "label"), ("code", "position"), ("metadata", "position")]
    assert "mapped by position" in warning
    # A column without a name is no key.
    with pytest.raises(CsvFormatError, match="match no field key or label"):
        map_header("vouchers", VOUCHER, requested, ["ID", "Code", "", "size"])


def test_bare_columns_are_not_metadata_keys_when_metadata_was_not_requested():
    with pytest.raises(CsvFormatError, match="color"):
        map_header("vouchers", VOUCHER, ("id", "code"), ["ID", "Code", "color"])


def test_a_metadata_json_column_is_not_folded():
    rows, _ = read('ID,Metadata\nv1,"{""a"": 1}"\n', requested=("id", "metadata"))
    assert rows == [{"id": "v1", "metadata": {"a": 1}}]


def test_every_voucher_and_redemption_label_resolves_to_its_own_field():
    for table in TABLES.values():
        for field in table.fields:
            column_map = map_header("s", table, (field.key,), [field.label])
            assert column_map.columns[0].field is field
