{#- The staging layer's one query: typed columns, one row per primary key, deletions flagged.

  Works on what each loader creates: MeltanoLabs target-postgres (numeric, jsonb, timestamp, and _sdc_* metadata:
  _sdc_deleted_at set by ACTIVATE_VERSION, _sdc_batched_at/_sdc_sequence to pick the latest version when it appends)
  and target-duckdb (double, json, varchar dates, no metadata unless add_metadata_columns). A column the table lacks
  is null of its type; a stream whose table does not exist (not selected) gives an empty model. -#}
{% macro twilio_staging(stream, keys, columns, order_by=none, deleted_when=none) %}
{%- set src = source('twilio', stream) -%}
{%- set relation = adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) if execute else none -%}
{%- set present = [] -%}
{%- if relation is not none -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}{%- do present.append(column.name | lower) -%}{%- endfor -%}
{%- endif -%}
{%- if relation is none %}
{{ twilio_require_source_schema(src) }}
select
  {%- for name, kind in columns %}
  cast(null as {{ twilio_type(kind) }}) as {{ adapter.quote(name) }},
  {%- endfor %}
  cast(null as timestamp) as _loaded_at,
  cast(null as timestamp) as _deleted_at,
  false as is_deleted
where 1 = 0
{%- else %}
with versions as (
  select
    {%- for name, kind in columns %}
    {{ twilio_cast(adapter.quote(name) if name in present else none, kind) }} as {{ adapter.quote(name) }},
    {%- endfor %}
    {{ 'cast(_sdc_batched_at as timestamp)' if '_sdc_batched_at' in present else 'cast(null as timestamp)' }} as _loaded_at,
    {{ 'cast(_sdc_deleted_at as timestamp)' if '_sdc_deleted_at' in present else 'cast(null as timestamp)' }} as _deleted_at,
    row_number() over (
      partition by {% for key in keys %}{{ adapter.quote(key) }}{{ ', ' if not loop.last }}{% endfor %}
      order by
        {%- if '_sdc_batched_at' in present %} _sdc_batched_at desc nulls last,{% endif %}
        {%- if '_sdc_sequence' in present %} _sdc_sequence desc nulls last,{% endif %}
        {%- if order_by and order_by in present %} {{ adapter.quote(order_by) }} desc nulls last,{% endif %}
        {{ adapter.quote(keys[0]) }}
    ) as _version
  from {{ src }}
)
select
  {%- for name, kind in columns %}
  {{ adapter.quote(name) }},
  {%- endfor %}
  _loaded_at,
  _deleted_at,
  (_deleted_at is not null{% if deleted_when %} or coalesce({{ deleted_when }}, false){% endif %}) as is_deleted
from versions
where _version = 1
{%- endif %}
{% endmacro %}


{#- The SQL type of a staging kind; exact decimals for prices and durations (6 places: Twilio sends at most 5, and
  a double from target-duckdb rounds back to the decimal Twilio sent). -#}
{% macro twilio_type(kind) %}
  {%- if kind == 'text' -%} {{ dbt.type_string() }}
  {%- elif kind == 'timestamp' -%} timestamp
  {%- elif kind == 'date' -%} date
  {%- elif kind == 'decimal' -%} {{ twilio_decimal() }}
  {%- elif kind == 'integer' -%} bigint
  {%- elif kind == 'boolean' -%} boolean
  {%- else -%} {{ twilio_json_type() }}
  {%- endif -%}
{% endmacro %}

{% macro twilio_decimal() %}decimal(28, 6){% endmacro %}

{#- One column of its kind; objects and arrays stay as the loader stored them (jsonb or json, text[] for arrays of
  strings in target-postgres). -#}
{% macro twilio_cast(column, kind) %}
  {%- if column is none -%} cast(null as {{ twilio_type(kind) }})
  {%- elif kind == 'json' -%} {{ column }}
  {%- elif kind == 'decimal' -%} cast({{ column }} as {{ twilio_decimal() }})
  {%- else -%} cast({{ column }} as {{ twilio_type(kind) }})
  {%- endif -%}
{% endmacro %}


{#- A missing table is a stream not selected; a schema without even `accounts` is a wrong source schema: say so
  rather than build empty models. -#}
{% macro twilio_require_source_schema(src) %}
  {%- if execute and adapter.get_relation(database=src.database, schema=src.schema, identifier='accounts') is none -%}
    {{ exceptions.raise_compiler_error(
      "No table accounts in schema " ~ src.schema ~ ": set the source schema (TWILIO_SOURCE_SCHEMA, var "
      ~ "twilio_source_schema, or Meltano's source_schema setting) to the schema tap-twilio was loaded into.") }}
  {%- endif -%}
{% endmacro %}
