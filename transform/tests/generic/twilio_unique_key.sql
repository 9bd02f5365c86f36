{#- One row per combination of the columns (a composite primary key), none of them null. -#}
{% test twilio_unique_key(model, columns) %}
select {% for c in columns %}{{ adapter.quote(c) }}{{ ', ' if not loop.last }}{% endfor %}, count(*) as n
from {{ model }}
group by {% for c in columns %}{{ adapter.quote(c) }}{{ ', ' if not loop.last }}{% endfor %}
having count(*) > 1{% for c in columns %} or {{ adapter.quote(c) }} is null{% endfor %}
{% endtest %}
