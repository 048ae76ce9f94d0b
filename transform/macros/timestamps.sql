{#- The loaders write the tap's UTC timestamps without a time zone (target-postgres and
    target-duckdb: `timestamp`; target-snowflake: TIMESTAMP_NTZ). Staging makes each an instant,
    `timestamp with time zone` (Snowflake: TIMESTAMP_TZ), read as UTC whatever the session's time
    zone; `utc_date` takes an instant's UTC calendar day. One implementation per adapter; the
    default is PostgreSQL's. -#}

{% macro utc_timestamp(column) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'voucherify')(column)) }}
{%- endmacro %}

{% macro default__utc_timestamp(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__utc_timestamp(column) -%}
    timezone('UTC', {{ column }})
{%- endmacro %}

{% macro snowflake__utc_timestamp(column) -%}
    {#- Not `::timestamp_tz`, which reads a TIMESTAMP_NTZ in the session's time zone. -#}
    timestamp_tz_from_parts(
        year({{ column }}), month({{ column }}), day({{ column }}),
        hour({{ column }}), minute({{ column }}), second({{ column }}),
        date_part(nanosecond, {{ column }}), 'UTC'
    )
{%- endmacro %}


{% macro utc_date(column) -%}
    {{ return(adapter.dispatch('utc_date', 'voucherify')(column)) }}
{%- endmacro %}

{% macro default__utc_date(column) -%}
    cast(({{ column }} at time zone 'UTC') as date)
{%- endmacro %}

{% macro duckdb__utc_date(column) -%}
    cast(timezone('UTC', {{ column }}) as date)
{%- endmacro %}

{% macro snowflake__utc_date(column) -%}
    cast(convert_timezone('UTC', {{ column }}) as date)
{%- endmacro %}
