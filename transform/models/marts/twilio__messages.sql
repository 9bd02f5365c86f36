-- Grain: one row per message (message_sid) still in Twilio. Cost is positive (Twilio reports charges negative).
with messages as (
  select * from {{ ref('stg_twilio__messages') }} where not is_deleted
),

accounts as (
  select sid, friendly_name from {{ ref('stg_twilio__accounts') }}
),

services as (
  select sid, friendly_name from {{ ref('stg_twilio__messaging_services') }}
),

media as (
  select message_sid, count(*) as media_files
  from {{ ref('stg_twilio__message_media') }}
  where not is_deleted
  group by message_sid
)

select
  messages.sid as message_sid,
  messages.account_sid,
  accounts.friendly_name as account_name,
  messages.messaging_service_sid,
  services.friendly_name as messaging_service_name,
  case when messages.direction = 'inbound' then 'inbound' else 'outbound' end as direction,
  messages.direction as twilio_direction,
  messages.status,
  messages.status in ('failed', 'undelivered') as is_failed,
  messages.{{ adapter.quote('from') }} as from_number,
  messages.{{ adapter.quote('to') }} as to_number,
  messages.date_created as created_at,
  messages.date_sent as sent_at,
  messages.date_updated as updated_at,
  {{ twilio_day('coalesce(messages.date_sent, messages.date_created)') }} as message_date,
  messages.num_segments as segments,
  messages.num_media as media_count,
  coalesce(media.media_files, 0) as media_files_synced,
  abs(messages.price) as cost,
  upper(messages.price_unit) as cost_unit,
  messages.error_code,
  messages.error_message
from messages
left join accounts on accounts.sid = messages.account_sid
left join services on services.sid = messages.messaging_service_sid
left join media on media.message_sid = messages.sid
