-- twilio__number_overview: messages out equal the raw outbound messages sent from the numbers it lists.
with mart as (
  select sum(messages_out) as messages_out, sum(calls_in) as calls_in from {{ ref('twilio__number_overview') }}
),
numbers as (
  select account_sid, phone_number from {{ twilio_raw_live('incoming_phone_numbers') }} as n
),
raw as (
  select
    (select count(*) from {{ twilio_raw_live('messages') }} as m
      join numbers on numbers.account_sid = m.account_sid and numbers.phone_number = m.{{ adapter.quote('from') }}
      where m.direction <> 'inbound') as messages_out,
    (select count(*) from {{ twilio_raw_live('calls') }} as c
      join numbers on numbers.account_sid = c.account_sid and numbers.phone_number = c.{{ adapter.quote('to') }}
      where c.direction = 'inbound') as calls_in
)
select * from mart cross join raw
where coalesce(mart.messages_out, 0) <> raw.messages_out or coalesce(mart.calls_in, 0) <> raw.calls_in
