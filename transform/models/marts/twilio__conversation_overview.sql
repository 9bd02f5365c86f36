-- Grain: one row per conversation (conversation_sid) still in Twilio: participants, messages, first and last message.
with conversations as (
  select * from {{ ref('stg_twilio__conversations') }} where not is_deleted
),

participants as (
  select conversation_sid, count(*) as participants
  from {{ ref('stg_twilio__conversation_participants') }}
  where not is_deleted
  group by conversation_sid
),

messages as (
  select
    conversation_sid,
    count(*) as messages,
    count(distinct author) as authors,
    min(date_created) as first_message_at,
    max(date_created) as last_message_at
  from {{ ref('stg_twilio__conversation_messages') }}
  where not is_deleted
  group by conversation_sid
),

services as (
  select sid, friendly_name from {{ ref('stg_twilio__conversation_services') }}
),

accounts as (
  select sid, friendly_name from {{ ref('stg_twilio__accounts') }}
)

select
  conversations.sid as conversation_sid,
  conversations.account_sid,
  accounts.friendly_name as account_name,
  conversations.chat_service_sid,
  services.friendly_name as conversation_service_name,
  conversations.messaging_service_sid,
  conversations.friendly_name,
  conversations.unique_name,
  conversations.state,
  conversations.date_created as created_at,
  conversations.date_updated as updated_at,
  coalesce(participants.participants, 0) as participants,
  coalesce(messages.messages, 0) as messages,
  coalesce(messages.authors, 0) as authors,
  messages.first_message_at,
  messages.last_message_at
from conversations
left join participants on participants.conversation_sid = conversations.sid
left join messages on messages.conversation_sid = conversations.sid
left join services on services.sid = conversations.chat_service_sid
left join accounts on accounts.sid = conversations.account_sid
