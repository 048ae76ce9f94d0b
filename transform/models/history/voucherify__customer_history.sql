{{ voucherify.version_history('customers', 'customer_id') }}
