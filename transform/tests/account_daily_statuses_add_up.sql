-- twilio__account_daily: the per-status columns add up to messages out and in (no status outside the lists in
-- dbt_project.yml's vars went uncounted).
select account_day_id
from {{ ref('twilio__account_daily') }}
where messages_out <> 0 {% for status in var('twilio_outbound_statuses') %} + messages_out_{{ status }}{% endfor %}
   or messages_in <> 0 {% for status in var('twilio_inbound_statuses') %} + messages_in_{{ status }}{% endfor %}
