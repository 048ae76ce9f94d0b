{{ voucherify.latest_version('vouchers', ['voucher_id'], version_column='updated_at') }}
