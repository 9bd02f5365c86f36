-- Grain: one row per incoming phone number (phone_number_sid) still in Twilio: messages and calls sent from it
-- (out) and to it (in), and what they cost. Messages and calls are aggregated per number before the join.
with numbers as (
  select * from {{ ref('stg_twilio__incoming_phone_numbers') }} where not is_deleted
),

messages_out as (
  select account_sid, from_number as phone_number, count(*) as messages, sum(coalesce(cost, 0)) as cost,
    sum(case when is_failed then 1 else 0 end) as failed, sum(case when status in ('delivered', 'read') then 1 else 0 end) as delivered
  from {{ ref('twilio__messages') }}
  where direction = 'outbound'
  group by account_sid, from_number
),

messages_in as (
  select account_sid, to_number as phone_number, count(*) as messages, sum(coalesce(cost, 0)) as cost
  from {{ ref('twilio__messages') }}
  where direction = 'inbound'
  group by account_sid, to_number
),

calls_out as (
  select account_sid, from_number as phone_number, count(*) as calls, sum(duration_seconds) as seconds,
    sum(coalesce(cost, 0)) as cost
  from {{ ref('twilio__calls') }}
  where direction = 'outbound'
  group by account_sid, from_number
),

calls_in as (
  select account_sid, to_number as phone_number, count(*) as calls, sum(duration_seconds) as seconds,
    sum(coalesce(cost, 0)) as cost
  from {{ ref('twilio__calls') }}
  where direction = 'inbound'
  group by account_sid, to_number
)

select
  numbers.sid as phone_number_sid,
  numbers.account_sid,
  numbers.phone_number,
  numbers.friendly_name,
  numbers.status,
  numbers.date_created as created_at,
  coalesce(messages_out.messages, 0) as messages_out,
  coalesce(messages_out.delivered, 0) as messages_out_delivered,
  coalesce(messages_out.failed, 0) as messages_out_failed,
  case when messages_out.messages > 0
    then cast(round(1.0 * messages_out.delivered / messages_out.messages, 4) as {{ twilio_decimal() }})
  end as delivery_rate,
  coalesce(messages_in.messages, 0) as messages_in,
  coalesce(calls_out.calls, 0) as calls_out,
  coalesce(calls_in.calls, 0) as calls_in,
  coalesce(calls_out.seconds, 0) + coalesce(calls_in.seconds, 0) as call_seconds,
  coalesce(messages_out.cost, 0) + coalesce(messages_in.cost, 0) as messages_cost,
  coalesce(calls_out.cost, 0) + coalesce(calls_in.cost, 0) as calls_cost,
  coalesce(messages_out.cost, 0) + coalesce(messages_in.cost, 0)
    + coalesce(calls_out.cost, 0) + coalesce(calls_in.cost, 0) as total_cost
from numbers
left join messages_out on messages_out.account_sid = numbers.account_sid and messages_out.phone_number = numbers.phone_number
left join messages_in on messages_in.account_sid = numbers.account_sid and messages_in.phone_number = numbers.phone_number
left join calls_out on calls_out.account_sid = numbers.account_sid and calls_out.phone_number = numbers.phone_number
left join calls_in on calls_in.account_sid = numbers.account_sid and calls_in.phone_number = numbers.phone_number
