"""prodops_lib.privacy: personal data is redacted; ordinary numbers are left alone."""

from __future__ import annotations

import pytest

from prodops_lib.privacy import redact


@pytest.mark.parametrize(("text", "expected"), [
    ("Call jane.doe@example.com back", "Call [email] back"),
    ("mail J.O'Neil+test@mail.co.uk now", "mail J.O'[email] now"),
    ("ring +1 415-555-0134 today", "ring [phone] today"),
    ("or (020) 7946 0958", "or [phone]"),
    ("mobile 07700 900123", "mobile [phone]"),
    ("call 415 555 0134", "call [phone]"),
    ("card 4111 1111 1111 1111 charged twice", "card [card] charged twice"),
    ("card 4111-1111-1111-1111", "card [card]"),
    ("reset at https://app.example.com/reset?token=abc123XYZ please", "reset at [url] please"),
    ("ping @maria_k on slack", "ping [handle] on slack"),
])
def test_personal_data_is_replaced_by_a_label(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "on 2026-10-01 we had 1,234 items and 3.5 hours",
    "order 12345678 shipped",
    "ticket APP-1234 and version 2.3.1",
    "docs at https://example.com/docs/page",
    "4111111111111112 fails the Luhn check",
    "revenue 1 299 EUR",
    "2026-10-01T09:30:00",
])
def test_ordinary_text_and_numbers_are_kept(text):
    assert redact(text) == text
