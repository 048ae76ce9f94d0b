{{ voucherify.latest_version('redemptions', ['redemption_id']) }}
