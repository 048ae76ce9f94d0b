{{ voucherify.latest_version('publications', ['voucher_code', 'customer_id', 'published_at']) }}
