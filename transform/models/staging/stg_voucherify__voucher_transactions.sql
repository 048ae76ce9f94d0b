{{ voucherify.latest_version('voucher_transactions', ['voucher_transaction_id']) }}
