{{ voucherify.version_history('orders', 'order_id') }}
