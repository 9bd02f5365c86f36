{#- Reconciliation: a mart's total of an expression equals the same total computed over a raw table (exactly). -#}
{% test twilio_equal_totals(model, expression, source_stream, source_expression, source_where='1 = 1', source_keys=['sid']) %}
with mart as (
  select coalesce(sum({{ expression }}), 0) as total from {{ model }}
),
raw as (
  select coalesce(sum({{ source_expression }}), 0) as total
  from {{ twilio_raw_live(source_stream, source_keys) }} as raw_rows
  where {{ source_where }}
)
select mart.total as mart_total, raw.total as raw_total
from mart cross join raw
where mart.total <> raw.total
{% endtest %}
