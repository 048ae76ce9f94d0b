{{ voucherify.latest_version('points_expirations', ['points_expiration_id']) }}
