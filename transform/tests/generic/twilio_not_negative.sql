{#- No row has a negative value (costs are reported positive, counts and durations cannot be negative). -#}
{% test twilio_not_negative(model, column_name) %}
select {{ column_name }} from {{ model }} where {{ column_name }} < 0
{% endtest %}
