{#- One row per UTC calendar day on which anything was created: redemptions, publications,
    orders, vouchers, customers (days without any are absent). Each stream is counted on its
    own timestamp: a redemption on redeemed_at, an order on created_at. -#}

with redemptions as (
    select
        {{ voucherify.utc_date('redeemed_at') }} as activity_date,
        count(case when result = 'SUCCESS' then 1 end) as redemptions_succeeded,
        count(case when result = 'FAILURE' then 1 end) as redemptions_failed,
        sum(case when result = 'SUCCESS' then order_amount end) as redeemed_order_amount,
        sum(case when result = 'SUCCESS' then gift_amount end) as redeemed_gift_amount,
        cast(sum(case when result = 'SUCCESS' then loyalty_points end) as {{ dbt.type_bigint() }})
            as redeemed_loyalty_points
    from {{ ref('stg_voucherify__redemptions') }}
    where object_type = 'redemption'
    group by 1
),

publications as (
    select {{ voucherify.utc_date('published_at') }} as activity_date, count(*) as publications
    from {{ ref('stg_voucherify__publications') }}
    group by 1
),

orders as (
    select
        {{ voucherify.utc_date('created_at') }} as activity_date,
        count(*) as orders_created,
        sum(total_amount) as orders_total_amount
    from {{ ref('stg_voucherify__orders') }}
    group by 1
),

vouchers as (
    select {{ voucherify.utc_date('created_at') }} as activity_date, count(*) as vouchers_created
    from {{ ref('stg_voucherify__vouchers') }}
    group by 1
),

customers as (
    select {{ voucherify.utc_date('created_at') }} as activity_date, count(*) as customers_created
    from {{ ref('stg_voucherify__customers') }}
    group by 1
),

days as (
    select activity_date from redemptions
    union
    select activity_date from publications
    union
    select activity_date from orders
    union
    select activity_date from vouchers
    union
    select activity_date from customers
)

select
    days.activity_date,
    coalesce(redemptions.redemptions_succeeded, 0) as redemptions_succeeded,
    coalesce(redemptions.redemptions_failed, 0) as redemptions_failed,
    coalesce(redemptions.redeemed_order_amount, 0) as redeemed_order_amount,
    coalesce(redemptions.redeemed_gift_amount, 0) as redeemed_gift_amount,
    coalesce(redemptions.redeemed_loyalty_points, 0) as redeemed_loyalty_points,
    coalesce(publications.publications, 0) as publications,
    coalesce(orders.orders_created, 0) as orders_created,
    coalesce(orders.orders_total_amount, 0) as orders_total_amount,
    coalesce(vouchers.vouchers_created, 0) as vouchers_created,
    coalesce(customers.customers_created, 0) as customers_created
from days
left join redemptions on days.activity_date = redemptions.activity_date
left join publications on days.activity_date = publications.activity_date
left join orders on days.activity_date = orders.activity_date
left join vouchers on days.activity_date = vouchers.activity_date
left join customers on days.activity_date = customers.activity_date
