-- Grain: one row per account (or subaccount) and UTC day with any message, call or usage record. Each source is
-- aggregated to (account, day) on its own before the join, so every total equals the sum over its table: a join of
-- message rows to usage rows would multiply both sides.
{%- set outbound = var('twilio_outbound_statuses') %}
{%- set inbound = var('twilio_inbound_statuses') %}
{%- set categories = var('twilio_usage_categories') %}

with messages as (
  select
    account_sid,
    message_date as day,
    sum(case when direction = 'outbound' then 1 else 0 end) as messages_out,
    sum(case when direction = 'inbound' then 1 else 0 end) as messages_in,
    {%- for status in outbound %}
    sum(case when direction = 'outbound' and status = '{{ status }}' then 1 else 0 end) as messages_out_{{ status }},
    {%- endfor %}
    sum(case when direction = 'outbound' and status not in ('{{ outbound | join("', '") }}') then 1 else 0 end) as messages_out_other,
    {%- for status in inbound %}
    sum(case when direction = 'inbound' and status = '{{ status }}' then 1 else 0 end) as messages_in_{{ status }},
    {%- endfor %}
    sum(case when direction = 'inbound' and status not in ('{{ inbound | join("', '") }}') then 1 else 0 end) as messages_in_other,
    sum(case when direction = 'outbound' then segments else 0 end) as segments_out,
    sum(coalesce(cost, 0)) as messages_cost
  from {{ ref('twilio__messages') }}
  group by account_sid, message_date
),

calls as (
  select
    account_sid,
    call_date as day,
    sum(case when direction = 'outbound' then 1 else 0 end) as calls_out,
    sum(case when direction = 'inbound' then 1 else 0 end) as calls_in,
    sum(case when status = 'completed' then 1 else 0 end) as calls_completed,
    sum(duration_seconds) as call_seconds,
    sum(billed_minutes) as call_minutes,
    sum(coalesce(cost, 0)) as calls_cost
  from {{ ref('twilio__calls') }}
  group by account_sid, call_date
),

usage as (
  select
    account_sid,
    start_date as day,
    sum(case when category = 'totalprice' then abs(price) else 0 end) as spend_total,
    {%- for category in categories %}
    sum(case when category = '{{ category }}' then abs(price) else 0 end) as {{ adapter.quote('spend_' ~ category | replace('-', '_')) }},
    {%- endfor %}
    max(upper(price_unit)) as spend_unit
  from {{ ref('stg_twilio__usage_records') }}
  where not is_deleted and start_date = end_date
  group by account_sid, start_date
),

days as (
  select account_sid, day from messages
  union
  select account_sid, day from calls
  union
  select account_sid, day from usage
),

accounts as (
  select sid, friendly_name, owner_account_sid from {{ ref('stg_twilio__accounts') }}
)

select
  {{ dbt.concat(['days.account_sid', "'/'", dbt.cast('days.day', dbt.type_string())]) }} as account_day_id,
  days.account_sid,
  accounts.friendly_name as account_name,
  accounts.owner_account_sid,
  days.day,
  coalesce(messages.messages_out, 0) as messages_out,
  coalesce(messages.messages_in, 0) as messages_in,
  {%- for status in outbound %}
  coalesce(messages.messages_out_{{ status }}, 0) as messages_out_{{ status }},
  {%- endfor %}
  coalesce(messages.messages_out_other, 0) as messages_out_other,
  {%- for status in inbound %}
  coalesce(messages.messages_in_{{ status }}, 0) as messages_in_{{ status }},
  {%- endfor %}
  coalesce(messages.messages_in_other, 0) as messages_in_other,
  coalesce(messages.segments_out, 0) as segments_out,
  coalesce(messages.messages_cost, 0) as messages_cost,
  coalesce(calls.calls_out, 0) as calls_out,
  coalesce(calls.calls_in, 0) as calls_in,
  coalesce(calls.calls_completed, 0) as calls_completed,
  coalesce(calls.call_seconds, 0) as call_seconds,
  coalesce(calls.call_minutes, 0) as call_minutes,
  coalesce(calls.calls_cost, 0) as calls_cost,
  coalesce(usage.spend_total, 0) as spend_total,
  {%- for category in categories %}
  coalesce(usage.{{ adapter.quote('spend_' ~ category | replace('-', '_')) }}, 0) as {{ adapter.quote('spend_' ~ category | replace('-', '_')) }},
  {%- endfor %}
  usage.spend_unit
from days
left join messages on messages.account_sid = days.account_sid and messages.day = days.day
left join calls on calls.account_sid = days.account_sid and calls.day = days.day
left join usage on usage.account_sid = days.account_sid and usage.day = days.day
left join accounts on accounts.sid = days.account_sid
