{#- The one place that says how each stream's raw columns become staging columns: name, type,
    and the raw column it comes from. Names: a table's own key is <entity>_id, timestamps end in
    _at, dates in _on (birthdate, birthday keep theirs), flags start with is_, a campaign's name
    is campaign_name. Kinds (macro `typed`): text as loaded; amount numeric; count bigint;
    timestamp an instant (utc_timestamp); date a date (target-duckdb loads dates as text);
    flag boolean; object a JSON object or NULL (json_object); as_loaded unchanged (an integer
    list: bigint[] in PostgreSQL, JSON in DuckDB, VARIANT in Snowflake). -#}

{% macro stream_columns(stream) -%}
{%- set streams = {
    'vouchers': [
        ('voucher_id', 'id', 'text'),
        ('voucher_code', 'code', 'text'),
        ('voucher_type', 'voucher_type', 'text'),
        ('campaign_id', 'campaign_id', 'text'),
        ('campaign_name', 'campaign', 'text'),
        ('category', 'category', 'text'),
        ('customer_id', 'customer_id', 'text'),
        ('customer_source_id', 'customer_source_id', 'text'),
        ('value', 'value', 'amount'),
        ('formula', 'formula', 'text'),
        ('discount_type', 'discount_type', 'text'),
        ('discount_amount_limit', 'discount_amount_limit', 'amount'),
        ('discount_effect', 'discount_effect', 'text'),
        ('discount_unit_type', 'discount_unit_type', 'text'),
        ('discount_unit_effect', 'discount_unit_effect', 'text'),
        ('gift_balance', 'gift_balance', 'amount'),
        ('loyalty_balance', 'loyalty_balance', 'count'),
        ('redemption_limit', 'redemption_quantity', 'count'),
        ('redemption_count', 'redemption_count', 'count'),
        ('is_active', 'active', 'flag'),
        ('is_referral_code', 'is_referral_code', 'flag'),
        ('starts_at', 'start_date', 'timestamp'),
        ('expires_at', 'expiration_date', 'timestamp'),
        ('validity_timeframe_interval', 'validity_timeframe_interval', 'text'),
        ('validity_timeframe_duration', 'validity_timeframe_duration', 'text'),
        ('validity_day_of_week', 'validity_day_of_week', 'as_loaded'),
        ('validation_rules_id', 'validation_rules_id', 'text'),
        ('additional_info', 'additional_info', 'text'),
        ('qr_code_url', 'qr_code', 'text'),
        ('barcode_url', 'bar_code', 'text'),
        ('created_at', 'created_at', 'timestamp'),
        ('updated_at', 'updated_at', 'timestamp'),
        ('metadata', 'metadata', 'object'),
    ],
    'redemptions': [
        ('redemption_id', 'id', 'text'),
        ('object_type', 'object', 'text'),
        ('redeemed_at', 'date', 'timestamp'),
        ('voucher_code', 'voucher_code', 'text'),
        ('campaign_name', 'campaign', 'text'),
        ('promotion_tier_id', 'promotion_tier_id', 'text'),
        ('customer_id', 'customer_id', 'text'),
        ('customer_source_id', 'customer_source_id', 'text'),
        ('customer_name', 'customer_name', 'text'),
        ('tracking_id', 'tracking_id', 'text'),
        ('order_id', 'order_id', 'text'),
        ('order_amount', 'order_amount', 'amount'),
        ('gift_amount', 'gift_amount', 'amount'),
        ('loyalty_points', 'loyalty_points', 'count'),
        ('result', 'result', 'text'),
        ('failure_code', 'failure_code', 'text'),
        ('failure_message', 'failure_message', 'text'),
        ('metadata', 'metadata', 'object'),
    ],
    'publications': [
        ('voucher_code', 'voucher_code', 'text'),
        ('customer_id', 'customer_id', 'text'),
        ('published_at', 'date', 'timestamp'),
        ('customer_source_id', 'customer_source_id', 'text'),
        ('channel', 'channel', 'text'),
        ('campaign_name', 'campaign', 'text'),
        ('is_winner', 'is_winner', 'flag'),
        ('metadata', 'metadata', 'object'),
    ],
    'customers': [
        ('customer_id', 'id', 'text'),
        ('source_id', 'source_id', 'text'),
        ('name', 'name', 'text'),
        ('description', 'description', 'text'),
        ('email', 'email', 'text'),
        ('phone', 'phone', 'text'),
        ('birthdate', 'birthdate', 'date'),
        ('birthday', 'birthday', 'date'),
        ('address_line_1', 'address_line_1', 'text'),
        ('address_line_2', 'address_line_2', 'text'),
        ('address_city', 'address_city', 'text'),
        ('address_state', 'address_state', 'text'),
        ('address_postal_code', 'address_postal_code', 'text'),
        ('address_country', 'address_country', 'text'),
        ('redemptions_total_redeemed', 'redemptions_total_redeemed', 'count'),
        ('redemptions_total_failed', 'redemptions_total_failed', 'count'),
        ('redemptions_total_succeeded', 'redemptions_total_succeeded', 'count'),
        ('redemptions_total_rolled_back', 'redemptions_total_rolled_back', 'count'),
        ('redemptions_total_rollback_failed', 'redemptions_total_rollback_failed', 'count'),
        ('redemptions_total_rollback_succeeded', 'redemptions_total_rollback_succeeded', 'count'),
        ('orders_total_amount', 'orders_total_amount', 'amount'),
        ('orders_total_count', 'orders_total_count', 'count'),
        ('orders_average_amount', 'orders_average_amount', 'amount'),
        ('orders_last_order_amount', 'orders_last_order_amount', 'amount'),
        ('orders_last_order_at', 'orders_last_order_date', 'timestamp'),
        ('loyalty_points', 'loyalty_points', 'count'),
        ('loyalty_referred_customers', 'loyalty_referred_customers', 'count'),
        ('created_at', 'created_at', 'timestamp'),
        ('updated_at', 'updated_at', 'timestamp'),
        ('metadata', 'metadata', 'object'),
    ],
    'orders': [
        ('order_id', 'id', 'text'),
        ('source_id', 'source_id', 'text'),
        ('status', 'status', 'text'),
        ('customer_id', 'customer_id', 'text'),
        ('referrer_id', 'referrer_id', 'text'),
        ('amount', 'amount', 'amount'),
        ('discount_amount', 'discount_amount', 'amount'),
        ('items_discount_amount', 'items_discount_amount', 'amount'),
        ('total_discount_amount', 'total_discount_amount', 'amount'),
        ('total_amount', 'total_amount', 'amount'),
        ('created_at', 'created_at', 'timestamp'),
        ('updated_at', 'updated_at', 'timestamp'),
        ('metadata', 'metadata', 'object'),
    ],
    'points_expirations': [
        ('points_expiration_id', 'id', 'text'),
        ('campaign_id', 'campaign_id', 'text'),
        ('voucher_id', 'voucher_id', 'text'),
        ('points', 'points', 'count'),
        ('status', 'status', 'text'),
        ('expires_on', 'expires_at', 'date'),
    ],
    'voucher_transactions': [
        ('voucher_transaction_id', 'id', 'text'),
        ('voucher_id', 'voucher_id', 'text'),
        ('campaign_id', 'campaign_id', 'text'),
        ('transaction_type', 'type', 'text'),
        ('source_id', 'source_id', 'text'),
        ('source', 'source', 'text'),
        ('reason', 'reason', 'text'),
        ('amount', 'amount', 'amount'),
        ('balance', 'balance', 'amount'),
        ('related_transaction_id', 'related_transaction_id', 'text'),
        ('created_at', 'created_at', 'timestamp'),
        ('details', 'details', 'object'),
    ],
} -%}
{{- return(streams[stream]) -}}
{%- endmacro %}


{% macro typed(kind, column) -%}
    {%- if kind == 'amount' -%} cast({{ column }} as {{ dbt.type_numeric() }})
    {%- elif kind == 'count' -%} cast({{ column }} as {{ dbt.type_bigint() }})
    {%- elif kind == 'timestamp' -%} {{ voucherify.utc_timestamp(column) }}
    {%- elif kind == 'date' -%} cast({{ column }} as date)
    {%- elif kind == 'flag' -%} cast({{ column }} as {{ dbt.type_boolean() }})
    {%- elif kind == 'object' -%} {{ voucherify.json_object(column) }}
    {%- elif kind in ('text', 'as_loaded') -%} {{ column }}
    {%- else -%} {{ exceptions.raise_compiler_error("unknown column kind " ~ kind) }}
    {%- endif -%}
{%- endmacro %}


{% macro metadata_key_columns(stream) -%}
    {#- Names of the stream's `metadata__<key>` columns (the tap's `metadata_keys` setting),
        read from the loaded table; none while parsing or with var voucherify_introspect false. -#}
    {%- set names = [] -%}
    {%- if execute and var('voucherify_introspect') -%}
        {%- for column in adapter.get_columns_in_relation(source('voucherify', stream)) -%}
            {%- if (column.name | lower).startswith('metadata__') -%}
                {%- do names.append(column.name | lower) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(names) -}}
{%- endmacro %}


{% macro column_names(stream) -%}
    {#- Every staging column of the stream, in order: its fields, then its metadata keys. -#}
    {%- set names = [] -%}
    {%- for name, raw, kind in voucherify.stream_columns(stream) -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {{- return(names + voucherify.metadata_key_columns(stream)) -}}
{%- endmacro %}


{% macro typed_rows(stream) -%}
    {#- Every row of the stream's table, as loaded (every version, deleted ones too), typed and
        named, with what the loader recorded about it: when the tap extracted it, when the
        loader wrote it, whether it is deleted (ACTIVATE_VERSION, or any `_sdc_deleted_at`).
        target-duckdb writes those columns with `add_metadata_columns: true` (meltano.yml),
        target-postgres and target-snowflake by default (`add_record_metadata`). -#}
    select
    {%- for name, raw, kind in voucherify.stream_columns(stream) %}
        {% set expression = voucherify.typed(kind, raw) -%}
        {{ expression }}{% if expression != name %} as {{ name }}{% endif %},
    {%- endfor %}
    {%- for name in voucherify.metadata_key_columns(stream) %}
        {{ name }},
    {%- endfor %}
        {{ voucherify.utc_timestamp('_sdc_extracted_at') }} as _extracted_at,
        {{ voucherify.utc_timestamp('_sdc_batched_at') }} as _loaded_at,
        _sdc_deleted_at is not null as _is_deleted
    from {{ source('voucherify', stream) }}
{%- endmacro %}


{% macro latest_version(stream, key_columns, version_column=none) -%}
    {#- One row per key: the latest version, whether the loader upserted (one row per key
        already) or appended (one per export of the key). The row Voucherify changed last wins
        (`version_column`, for streams whose rows change), then the one extracted last, then
        the one loaded last. Deleted keys are left out after that choice: a key whose latest
        version is deleted is gone, while an older deleted version does not hide a newer one.
        Without QUALIFY, which PostgreSQL lacks. -#}
    with typed as (
        {{ voucherify.typed_rows(stream) | indent(4) }}
    ),

    ranked as (
        select
            typed.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by
                    {%- if version_column %}
                    {{ version_column }} desc nulls last,
                    {%- endif %}
                    _extracted_at desc nulls last,
                    _loaded_at desc nulls last
            ) as _version_rank
        from typed
    )

    select
    {%- for name in voucherify.column_names(stream) %}
        {{ name }},
    {%- endfor %}
        _extracted_at
    from ranked
    where _version_rank = 1 and not _is_deleted
{%- endmacro %}


{% macro version_history(stream, key_column) -%}
    {#- Every version of each row the table holds, as `valid_from` / `valid_to` periods: a
        version starts at its `updated_at` (its `created_at` when never updated) and ends where
        the next one starts; the current one has `valid_to` NULL. Holds more than one version
        per key only where the loader appends (load_method append-only, docs/models.md). A
        version exported twice (a window edge, or both cursors) counts once: the copy extracted
        last. A deleted version stays, flagged `is_deleted`. -#}
    with typed as (
        {{ voucherify.typed_rows(stream) | indent(4) }}
    ),

    versions as (
        select
            typed.*,
            coalesce(updated_at, created_at) as valid_from,
            row_number() over (
                partition by {{ key_column }}, coalesce(updated_at, created_at)
                order by _extracted_at desc nulls last, _loaded_at desc nulls last
            ) as _copy_rank
        from typed
    ),

    periods as (
        select
            versions.*,
            lead(valid_from) over (partition by {{ key_column }} order by valid_from) as valid_to
        from versions
        where _copy_rank = 1
    )

    select
    {%- for name in voucherify.column_names(stream) %}
        {{ name }},
    {%- endfor %}
        valid_from,
        valid_to,
        valid_to is null as is_current,
        _is_deleted as is_deleted,
        _extracted_at
    from periods
{%- endmacro %}
