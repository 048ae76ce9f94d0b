{#- One row per customer (customer_id): what Voucherify keeps on the customer, and what the other
    streams say about them. A voucher is "held" when it names the customer as its holder
    (vouchers.customer_id: loyalty cards, gift cards, assigned codes); publications, redemptions
    and orders name the customer directly. -#}

with customers as (
    select * from {{ ref('stg_voucherify__customers') }}
),

vouchers as (
    select
        customer_id,
        count(*) as vouchers_held,
        cast(sum(loyalty_balance) as {{ dbt.type_bigint() }}) as loyalty_card_balance
    from {{ ref('stg_voucherify__vouchers') }}
    where customer_id is not null
    group by customer_id
),

publications as (
    select
        customer_id,
        count(distinct voucher_code) as vouchers_published,
        max(published_at) as last_published_at
    from {{ ref('stg_voucherify__publications') }}
    group by customer_id
),

redemptions as (
    select
        customer_id,
        count(case when result = 'SUCCESS' then 1 end) as redemptions_succeeded,
        count(case when result = 'FAILURE' then 1 end) as redemptions_failed,
        sum(case when result = 'SUCCESS' then order_amount end) as redeemed_order_amount,
        max(redeemed_at) as last_redeemed_at
    from {{ ref('stg_voucherify__redemptions') }}
    where object_type = 'redemption' and customer_id is not null
    group by customer_id
),

orders as (
    select
        customer_id,
        count(*) as orders,
        sum(total_amount) as orders_total_amount,
        max(created_at) as last_order_created_at
    from {{ ref('stg_voucherify__orders') }}
    where customer_id is not null
    group by customer_id
)

select
    customers.customer_id,
    customers.source_id,
    customers.name,
    customers.email,
    customers.created_at,
    coalesce(vouchers.vouchers_held, 0) as vouchers_held,
    coalesce(publications.vouchers_published, 0) as vouchers_published,
    coalesce(redemptions.redemptions_succeeded, 0) as redemptions_succeeded,
    coalesce(redemptions.redemptions_failed, 0) as redemptions_failed,
    coalesce(redemptions.redeemed_order_amount, 0) as redeemed_order_amount,
    coalesce(orders.orders, 0) as orders,
    coalesce(orders.orders_total_amount, 0) as orders_total_amount,
    -- Voucherify's own figures on the customer.
    customers.loyalty_points,
    vouchers.loyalty_card_balance,
    customers.redemptions_total_redeemed,
    customers.orders_total_count,
    -- The latest of: created or updated, a publication, a redemption, an order. Each term falls
    -- back to created_at, as Snowflake's greatest() is NULL when any argument is.
    greatest(
        customers.created_at,
        coalesce(customers.updated_at, customers.created_at),
        coalesce(publications.last_published_at, customers.created_at),
        coalesce(redemptions.last_redeemed_at, customers.created_at),
        coalesce(orders.last_order_created_at, customers.created_at)
    ) as last_activity_at
from customers
left join vouchers on customers.customer_id = vouchers.customer_id
left join publications on customers.customer_id = publications.customer_id
left join redemptions on customers.customer_id = redemptions.customer_id
left join orders on customers.customer_id = orders.customer_id
