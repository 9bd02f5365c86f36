-- Grain: one row per Verify service, channel and UTC day with attempts: attempts, conversions and their cost.
with attempts as (
  select
    account_sid,
    service_sid,
    coalesce(channel, 'unknown') as channel,
    {{ twilio_day('date_created') }} as day,
    conversion_status,
    {{ twilio_json_decimal('price', ['value']) }} as price,
    upper({{ twilio_json_text('price', ['currency']) }}) as currency
  from {{ ref('stg_twilio__verify_attempts') }}
  where not is_deleted
),

daily as (
  select
    account_sid,
    service_sid,
    channel,
    day,
    count(*) as attempts,
    sum(case when conversion_status = 'converted' then 1 else 0 end) as conversions,
    sum(coalesce(abs(price), 0)) as cost,
    max(currency) as cost_unit
  from attempts
  group by account_sid, service_sid, channel, day
),

services as (
  select sid, friendly_name from {{ ref('stg_twilio__verify_services') }}
)

select
  {{ dbt.concat(['daily.service_sid', "'/'", 'daily.channel', "'/'", dbt.cast('daily.day', dbt.type_string())]) }} as service_channel_day_id,
  daily.account_sid,
  daily.service_sid,
  services.friendly_name as service_name,
  daily.channel,
  daily.day,
  daily.attempts,
  daily.conversions,
  cast(round(1.0 * daily.conversions / daily.attempts, 4) as {{ twilio_decimal() }}) as conversion_rate,
  daily.cost,
  daily.cost_unit,
  case when daily.conversions > 0
    then cast(round(daily.cost / daily.conversions, 6) as {{ twilio_decimal() }})
  end as cost_per_conversion
from daily
left join services on services.sid = daily.service_sid
