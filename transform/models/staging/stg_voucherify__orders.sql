{{ voucherify.latest_version('orders', ['order_id'], version_column='updated_at') }}
