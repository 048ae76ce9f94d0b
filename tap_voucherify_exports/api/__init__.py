"""HTTP to Voucherify: one session, credentials only to trusted origins, the rate gate, retries."""
