-- twilio__verify_daily: attempts and cost equal the count and the sum of price.value over the raw verify_attempts.
with mart as (
  select sum(attempts) as attempts, sum(cost) as cost from {{ ref('twilio__verify_daily') }}
),
raw as (
  select count(*) as attempts, coalesce(sum(abs({{ twilio_json_decimal('price', ['value']) }})), 0) as cost
  from {{ twilio_raw_live('verify_attempts') }} as raw_rows
)
select * from mart cross join raw
where coalesce(mart.attempts, 0) <> raw.attempts or coalesce(mart.cost, 0) <> raw.cost
