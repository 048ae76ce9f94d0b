{#- An exported JSON object column (`metadata`, `details`) as the object, or SQL NULL. An empty
    cell reaches the loaders as null, which target-postgres stores as JSON `null` (jsonb), not
    SQL NULL (docs/loaders.md); target-duckdb stores SQL NULL; Snowflake a VARIANT null. -#}

{% macro json_object(column) -%}
    {{ return(adapter.dispatch('json_object', 'voucherify')(column)) }}
{%- endmacro %}

{% macro default__json_object(column) -%}
    {#- The cast lets a loader's `json` column through too (target-postgres writes `jsonb`). -#}
    case when jsonb_typeof(cast({{ column }} as jsonb)) = 'object' then {{ column }} end
{%- endmacro %}

{% macro duckdb__json_object(column) -%}
    case when json_type({{ column }}) = 'OBJECT' then {{ column }} end
{%- endmacro %}

{% macro snowflake__json_object(column) -%}
    case when is_object({{ column }}) then {{ column }} end
{%- endmacro %}
