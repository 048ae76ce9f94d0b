{{ voucherify.version_history('vouchers', 'voucher_id') }}
