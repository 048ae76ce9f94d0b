{{ voucherify.latest_version('customers', ['customer_id'], version_column='updated_at') }}
