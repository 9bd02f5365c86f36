-- twilio__conversation_overview: messages and participants equal the raw rows of the conversations it lists.
with mart as (
  select sum(messages) as messages, sum(participants) as participants from {{ ref('twilio__conversation_overview') }}
),
conversations as (
  select sid from {{ twilio_raw_live('conversations') }} as c
),
raw as (
  select
    (select count(*) from {{ twilio_raw_live('conversation_messages') }} as m
      where m.conversation_sid in (select sid from conversations)) as messages,
    (select count(*) from {{ twilio_raw_live('conversation_participants') }} as p
      where p.conversation_sid in (select sid from conversations)) as participants
)
select * from mart cross join raw
where coalesce(mart.messages, 0) <> raw.messages or coalesce(mart.participants, 0) <> raw.participants
