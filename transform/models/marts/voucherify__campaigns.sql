{#- One row per campaign (campaign_id) that has a voucher in the vouchers table; standalone
    vouchers (no campaign) are in no row. Redemptions and
    publications carry only a campaign's name, which Voucherify lets one rename: they are
    counted for the campaign of the voucher they name (voucher_code), not by that name.
    Redemptions of a code the vouchers table lacks (a promotion tier, a voucher deleted before
    its first sync) are in no campaign's row. -#}

with vouchers as (
    select * from {{ ref('stg_voucherify__vouchers') }}
    where campaign_id is not null
),

redemptions as (
    select
        vouchers.campaign_id,
        redemptions.*
    from {{ ref('stg_voucherify__redemptions') }} as redemptions
    inner join vouchers on redemptions.voucher_code = vouchers.voucher_code
    -- Voucherify's default object; what a rollback's export row says is not documented.
    where redemptions.object_type = 'redemption'
),

publications as (
    select
        vouchers.campaign_id,
        publications.voucher_code
    from {{ ref('stg_voucherify__publications') }} as publications
    inner join vouchers on publications.voucher_code = vouchers.voucher_code
),

voucher_totals as (
    select
        campaign_id,
        -- Every voucher of a campaign carries its name; after a rename, old and new may differ.
        max(campaign_name) as campaign_name,
        count(*) as vouchers_issued,
        count(case when is_active then 1 end) as vouchers_active,
        cast(sum(redemption_count) as {{ dbt.type_bigint() }}) as voucher_redemption_count,
        sum(gift_balance) as gift_balance,
        cast(sum(loyalty_balance) as {{ dbt.type_bigint() }}) as loyalty_balance,
        min(created_at) as first_voucher_created_at,
        max(created_at) as last_voucher_created_at
    from vouchers
    group by campaign_id
),

publication_totals as (
    select
        campaign_id,
        count(*) as publications,
        count(distinct voucher_code) as vouchers_published
    from publications
    group by campaign_id
),

redemption_totals as (
    select
        campaign_id,
        count(case when result = 'SUCCESS' then 1 end) as redemptions_succeeded,
        count(case when result = 'FAILURE' then 1 end) as redemptions_failed,
        count(distinct case when result = 'SUCCESS' then voucher_code end) as vouchers_redeemed,
        sum(case when result = 'SUCCESS' then order_amount end) as redeemed_order_amount,
        sum(case when result = 'SUCCESS' then gift_amount end) as redeemed_gift_amount,
        cast(sum(case when result = 'SUCCESS' then loyalty_points end) as {{ dbt.type_bigint() }})
            as redeemed_loyalty_points,
        max(case when result = 'SUCCESS' then redeemed_at end) as last_redeemed_at
    from redemptions
    group by campaign_id
)

select
    voucher_totals.campaign_id,
    voucher_totals.campaign_name,
    voucher_totals.vouchers_issued,
    voucher_totals.vouchers_active,
    coalesce(publication_totals.vouchers_published, 0) as vouchers_published,
    coalesce(publication_totals.publications, 0) as publications,
    coalesce(redemption_totals.vouchers_redeemed, 0) as vouchers_redeemed,
    coalesce(redemption_totals.redemptions_succeeded, 0) as redemptions_succeeded,
    coalesce(redemption_totals.redemptions_failed, 0) as redemptions_failed,
    -- Share of the campaign's vouchers redeemed at least once (in the synced redemptions).
    cast(coalesce(redemption_totals.vouchers_redeemed, 0) as {{ dbt.type_float() }})
        / voucher_totals.vouchers_issued as redemption_rate,
    coalesce(redemption_totals.redeemed_order_amount, 0) as redeemed_order_amount,
    coalesce(redemption_totals.redeemed_gift_amount, 0) as redeemed_gift_amount,
    coalesce(redemption_totals.redeemed_loyalty_points, 0) as redeemed_loyalty_points,
    -- Voucherify's own counters on the vouchers, which count redemptions before start_date too.
    coalesce(voucher_totals.voucher_redemption_count, 0) as voucher_redemption_count,
    voucher_totals.gift_balance,
    voucher_totals.loyalty_balance,
    voucher_totals.first_voucher_created_at,
    voucher_totals.last_voucher_created_at,
    redemption_totals.last_redeemed_at
from voucher_totals
left join publication_totals on voucher_totals.campaign_id = publication_totals.campaign_id
left join redemption_totals on voucher_totals.campaign_id = redemption_totals.campaign_id
