-- twilio__account_daily: the per-status columns (the statuses in dbt_project.yml's vars, and _other for any
-- status outside them) add up to messages out and in.
select account_day_id
from {{ ref('twilio__account_daily') }}
where messages_out <> 0 {% for status in var('twilio_outbound_statuses') %} + messages_out_{{ status }}{% endfor %} + messages_out_other
   or messages_in <> 0 {% for status in var('twilio_inbound_statuses') %} + messages_in_{{ status }}{% endfor %} + messages_in_other
