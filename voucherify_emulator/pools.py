"""Fixed value pools the synthetic rows pick from.

They are deliberately awkward for a CSV reader: unicode (accents, CJK, emoji), commas, quotes,
embedded newlines in metadata JSON, and blanks.
"""

from __future__ import annotations

import json

FIRST_NAMES = (
    "Zoë",
    "José",
    "Ørjan",
    "Björk",
    "Ana María",
    "Jean-Luc",
    "Łucja",
    "Søren",
    "Agnieszka",
    "Olivia",
    "Liam",
    "Noah",
    "Chloé",
    "François",
    "Ngọc",
    "山田",
    "李",
    "Анна",
    "Σοφία",
    "Zürich",
)
LAST_NAMES = (
    "Łukasiewicz",
    "Núñez",
    "Ødegård",
    "Guðmundsdóttir",
    "O'Neil",
    "Smith, Jr.",
    "Müller",
    "太郎",
    "小龙",
    "Иванова",
    "Παπαδοπούλου",
    '"JL" Picard',
    "Nguyễn",
    "Dubois",
    "🙂",
)
CITIES = ("Warszawa", "München", "São Paulo", "東京", "Kraków", "New York, NY", "", "Zürich")
STATES = ("", "Mazowieckie", "Bayern", "SP", "NY", "")
COUNTRIES = ("Poland", "Germany", "Brazil", "Japan", "USA", "Côte d'Ivoire", "")
STREETS = ("ul. Żółwia 12", "Hauptstraße 5", "Rua São João, 45", "1-2-3 Shibuya", "", "5th Ave")
CAMPAIGNS = (
    "Summer Sale 2021",
    'Black Friday, "Mega" Deal',
    "Loyalty Program",
    "Referral ❤️",
    "Gift Cards",
    "Welcome 10%",
    "冬季促销",
    "",
)
CATEGORIES = ("", "New Customers", "VIP", "Newsletter, EU", "")
DESCRIPTIONS = ("", "Regular customer", 'Prefers "express" delivery', "Line one\nline two", "")
VOUCHER_TYPES = (
    "DISCOUNT_VOUCHER",
    "DISCOUNT_VOUCHER",
    "DISCOUNT_VOUCHER",
    "DISCOUNT_VOUCHER",
    "DISCOUNT_VOUCHER",
    "GIFT_VOUCHER",
    "GIFT_VOUCHER",
    "GIFT_VOUCHER",
    "LOYALTY_CARD",
    "LOYALTY_CARD",
)
DISCOUNT_TYPES = ("AMOUNT", "PERCENT", "FIXED", "UNIT")
DISCOUNT_EFFECTS = ("", "APPLY_TO_ORDER", "APPLY_TO_ITEMS", "ADD_MISSING_ITEMS")
DAYS_OF_WEEK = ("", "1,2,3", "0,6", "1,2,3,4,5", "", "3")
INTERVALS = ("", "", "P2D", "P1W")
DURATIONS = ("", "", "PT1H", "PT30M")
ADDITIONAL_INFO = ("", "Thanks for shopping!", "Valid in-store, online", "有效期内使用", "")
CHANNELS = ("API", "Dashboard", "Automation", "Distribution: email")
ORDER_STATUSES = ("CREATED", "PAID", "CANCELED", "FULFILLED")
# Voucher transaction types (Voucherify's voucher transaction object).
GIFT_TRANSACTION_TYPES = ("CREDITS_ADDITION", "CREDITS_REMOVAL", "CREDITS_REDEMPTION")
LOYALTY_TRANSACTION_TYPES = (
    "POINTS_ADDITION",
    "POINTS_REMOVAL",
    "POINTS_ACCRUAL",
    "POINTS_REDEMPTION",
)
TRANSACTION_REASONS = ("", "Welcome bonus", "Refund, order #12", 'Manual "fix"', "")
TRANSACTION_SOURCES = ("API", "voucherify-web-ui", "")
TRANSACTION_DETAILS = (
    "{}",
    '{"order":{"id":"ord_0a1b","source_id":"o-1"}}',
    '{"balance":{"type":"gift_voucher","total":1000,"amount":-100,"object":"balance"}}',
    '{"reason":"He said \\"thanks\\", twice"}',
)
FAILURE_CODES = ("voucher_expired", "quantity_exceeded", "customer_rules_violated")
FAILURE_MESSAGES = ("Voucher expired", "Quantity exceeded, sorry", 'Rules "violated"')


def _metadata() -> tuple[str, ...]:
    # Compact JSON, pretty JSON (embedded newlines) and blanks; the csv writer must quote them.
    docs: list[object] = [
        {"region": "EU, West", "tier": "gold"},
        {"note": 'He said "hi"', "count": 3, "ok": True},
        {"city": "Zürich", "tags": ["a", "b,c"], "nested": {"x": 1.5}},
        {"emoji": "🎉", "cjk": "优惠券"},
    ]
    texts = [json.dumps(d, ensure_ascii=False) for d in docs]
    texts += [json.dumps(d, ensure_ascii=False, indent=2) for d in docs[:2]]
    return (*texts, "", "", "{}")


METADATA = _metadata()
