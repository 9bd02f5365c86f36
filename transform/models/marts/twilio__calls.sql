-- Grain: one row per call (call_sid) still in Twilio, with its Voice Insights call summary's quality figures when
-- one was synced (has_insights_summary). Cost is positive; billed_minutes rounds each call up to whole minutes.
with calls as (
  select * from {{ ref('stg_twilio__calls') }} where not is_deleted
),

accounts as (
  select sid, friendly_name from {{ ref('stg_twilio__accounts') }}
),

summaries as (
  select
    call_sid,
    call_type,
    call_state,
    processing_state,
    answered_by,
    connect_duration,
    duration,
    {{ twilio_json_text('properties', ['disconnected_by']) }} as disconnected_by,
    case
      when carrier_edge is not null then 'carrier_edge'
      when sip_edge is not null then 'sip_edge'
      when sdk_edge is not null then 'sdk_edge'
      when client_edge is not null then 'client_edge'
    end as quality_edge,
    coalesce(
      {{ twilio_json_decimal('carrier_edge', ['metrics', 'inbound', 'packets_received']) }},
      {{ twilio_json_decimal('sip_edge', ['metrics', 'inbound', 'packets_received']) }},
      {{ twilio_json_decimal('sdk_edge', ['metrics', 'inbound', 'packets_received']) }},
      {{ twilio_json_decimal('client_edge', ['metrics', 'inbound', 'packets_received']) }}
    ) as packets_received,
    coalesce(
      {{ twilio_json_decimal('carrier_edge', ['metrics', 'inbound', 'packets_lost']) }},
      {{ twilio_json_decimal('sip_edge', ['metrics', 'inbound', 'packets_lost']) }},
      {{ twilio_json_decimal('sdk_edge', ['metrics', 'inbound', 'packets_lost']) }},
      {{ twilio_json_decimal('client_edge', ['metrics', 'inbound', 'packets_lost']) }}
    ) as packets_lost,
    coalesce(
      {{ twilio_json_decimal('carrier_edge', ['metrics', 'inbound', 'jitter', 'avg']) }},
      {{ twilio_json_decimal('sip_edge', ['metrics', 'inbound', 'jitter', 'avg']) }},
      {{ twilio_json_decimal('sdk_edge', ['metrics', 'inbound', 'jitter', 'avg']) }},
      {{ twilio_json_decimal('client_edge', ['metrics', 'inbound', 'jitter', 'avg']) }}
    ) as jitter_avg_ms,
    coalesce(
      {{ twilio_json_decimal('carrier_edge', ['metrics', 'inbound', 'jitter', 'max']) }},
      {{ twilio_json_decimal('sip_edge', ['metrics', 'inbound', 'jitter', 'max']) }},
      {{ twilio_json_decimal('sdk_edge', ['metrics', 'inbound', 'jitter', 'max']) }},
      {{ twilio_json_decimal('client_edge', ['metrics', 'inbound', 'jitter', 'max']) }}
    ) as jitter_max_ms,
    {{ twilio_json_decimal('sdk_edge', ['metrics', 'inbound', 'mos', 'avg']) }} as mos_avg
  from {{ ref('stg_twilio__call_summaries') }}
  where not is_deleted
)

select
  calls.sid as call_sid,
  calls.account_sid,
  accounts.friendly_name as account_name,
  calls.parent_call_sid,
  case when calls.direction = 'inbound' then 'inbound' else 'outbound' end as direction,
  calls.direction as twilio_direction,
  calls.status,
  calls.{{ adapter.quote('from') }} as from_number,
  calls.{{ adapter.quote('to') }} as to_number,
  calls.phone_number_sid,
  calls.date_created as created_at,
  calls.start_time as started_at,
  calls.end_time as ended_at,
  {{ twilio_day('coalesce(calls.start_time, calls.date_created)') }} as call_date,
  coalesce(calls.duration, 0) as duration_seconds,
  cast(ceil(coalesce(calls.duration, 0) / 60.0) as bigint) as billed_minutes,
  calls.queue_time,
  abs(calls.price) as cost,
  upper(calls.price_unit) as cost_unit,
  calls.answered_by,
  summaries.call_sid is not null as has_insights_summary,
  summaries.call_type as insights_call_type,
  summaries.call_state as insights_call_state,
  summaries.processing_state as insights_processing_state,
  summaries.disconnected_by,
  summaries.connect_duration as connect_duration_seconds,
  summaries.quality_edge,
  summaries.packets_received,
  summaries.packets_lost,
  case
    when summaries.packets_received + summaries.packets_lost > 0
      then cast(round(100.0 * summaries.packets_lost / (summaries.packets_received + summaries.packets_lost), 4) as {{ twilio_decimal() }})
  end as packet_loss_pct,
  summaries.jitter_avg_ms,
  summaries.jitter_max_ms,
  summaries.mos_avg
from calls
left join accounts on accounts.sid = calls.account_sid
left join summaries on summaries.call_sid = calls.sid
