{#- The few places where PostgreSQL and DuckDB SQL differ, dispatched on the adapter. -#}

{% macro twilio_json_type() %}{{ return(adapter.dispatch('twilio_json_type', 'tap_twilio')()) }}{% endmacro %}
{% macro default__twilio_json_type() %}json{% endmacro %}
{% macro postgres__twilio_json_type() %}jsonb{% endmacro %}

{#- A JSON value's field as text; path is a list of keys: twilio_json_text('price', ['value']). -#}
{% macro twilio_json_text(column, path) %}{{ return(adapter.dispatch('twilio_json_text', 'tap_twilio')(column, path)) }}{% endmacro %}
{% macro default__twilio_json_text(column, path) %}json_extract_string({{ column }}, '$.{{ path | join(".") }}'){% endmacro %}
{% macro postgres__twilio_json_text(column, path) %}({{ column }} #>> '{ {{- path | join(",") -}} }'){% endmacro %}

{#- A JSON value's field as an exact decimal (null when missing or not a number). -#}
{% macro twilio_json_decimal(column, path) -%}
  cast({{ twilio_json_text(column, path) }} as {{ twilio_decimal() }})
{%- endmacro %}

{#- The UTC day of a timestamp. -#}
{% macro twilio_day(expression) %}cast({{ expression }} as date){% endmacro %}
