{#- The raw table of a stream as loaded, one row per primary key (a loader that appends keeps every version: the
  latest wins) and without the rows the loader flagged deleted: what reconciliation tests compare marts with. A
  stream not loaded (its table missing) is its staging model, empty. -#}
{% macro twilio_raw_live(stream, keys=['sid']) %}
{%- set src = source('twilio', stream) -%}
{%- set staged = ref('stg_twilio__' ~ stream) -%}
{%- set relation = adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) if execute else none -%}
{%- set present = [] -%}
{%- if relation is not none -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}{%- do present.append(column.name | lower) -%}{%- endfor -%}
{%- endif -%}
{%- if relation is none and execute %}
{{ twilio_require_source_schema(src) }}
{{ staged }}
{%- else %}
(
  select * from (
    select raw.*, row_number() over (
      partition by {% for key in keys %}{{ adapter.quote(key) }}{{ ', ' if not loop.last }}{% endfor %}
      order by {% if '_sdc_batched_at' in present %}_sdc_batched_at desc nulls last, {% endif %}{% if '_sdc_sequence' in present %}_sdc_sequence desc nulls last, {% endif %}{{ adapter.quote(keys[0]) }}
    ) as _twilio_version
    from {{ src }} as raw
  ) as versions
  where _twilio_version = 1{% if '_sdc_deleted_at' in present %} and _sdc_deleted_at is null{% endif %}
)
{%- endif %}
{%- endmacro %}
