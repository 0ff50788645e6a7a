"""prodops_lib.privacy: personal data is redacted; ordinary numbers, ids and links are left alone."""

from __future__ import annotations

import pytest

from prodops_lib.privacy import redact

EMAILS = [
    ("Call jane.doe@example.com back", "Call [email] back"),
    ("mail J.O'Neil+test@mail.co.uk now", "mail J.O'[email] now"),
    ("from first.last+billing@eu.mail.example.co.uk.", "from [email]."),
    ("write to mailto:support+vip@help.example.com?subject=Refund today", "write to [email] today"),
    ("<a href='mailto:jane@example.com'>", "<a href='[email]'>"),
]
PHONES = [
    ("ring +1 415-555-0134 today", "ring [phone] today"),
    ("or (020) 7946 0958", "or [phone]"),
    ("mobile 07700 900123", "mobile [phone]"),
    ("call 415 555 0134", "call [phone]"),
    ("text +447700900123 please", "text [phone] please"),
    ("mobile 07700900123", "mobile [phone]"),
    ("office +49 30 1234567.", "office [phone]."),
    ("portable +33 6 12 34 56 78", "portable [phone]"),
    ("+1 (415) 555-0134", "[phone]"),
    ("call (415) 555-0134 after 5", "call [phone] after 5"),
    ("415.555.0134", "[phone]"),
    ("+1-415-555-0134", "[phone]"),
    ("1-800-555-0134", "[phone]"),
    ("London 020 7946 0958", "London [phone]"),
    ("tel:+447700900123", "tel:[phone]"),
    ("name,07700900123,active", "name,[phone],active"),
]
CARDS = [  # public test numbers of the card networks; each passes the Luhn check
    ("card 4111 1111 1111 1111 charged twice", "card [card] charged twice"),
    ("card 4111-1111-1111-1111", "card [card]"),
    ("mc 5555555555554444", "mc [card]"),
    ("amex 3782 822463 10005.", "amex [card]."),
    ("discover 6011-1111-1111-1117", "discover [card]"),
    ("old visa 4222222222222", "old visa [card]"),
]
SECRET_URLS = [
    ("reset at https://app.example.com/reset?token=abc123XYZ please", "reset at [url] please"),
    ("key in https://api.example.com/v1/items?page=2&api_key=9f8e7d", "key in [url]"),
    ("https://app.example.com/callback#access_token=eyJhbGciOi&state=1", "[url]"),
    ("see https://app.example.com/account?reset_code=482913.", "see [url]."),
    ("(https://files.example.com/a.pdf?X-Amz-Signature=ab12)", "([url])"),
    ("www.example.com/login?session_id=77aa", "[url]"),
    ("https://app.example.com/reset/Zk3_q9LmNw7-Xr2TyB8v", "[url]"),
    ("join https://app.example.com/invite/aB3dE5gH7jK9mN1pQ3 now", "join [url] now"),
    ("https://app.example.com/token/0123456789abcdef01/confirm", "[url]"),
    ("https://admin:hunter2@db.example.com/", "[url]"),
]
IBANS = [  # the examples of the ISO 13616 registry (SWIFT's IBAN registry), each passing mod 97
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [iban] please"),
    ("refund to GB82WEST12345698765432.", "refund to [iban]."),
    ("iban gb82 west 1234 5698 7654 32", "iban [iban]"),
    ("FR14 2004 1010 0505 0001 3M02 606", "[iban]"),
    ("NL91ABNA0417164300", "[iban]"),
]
NATIONAL_IDS = [
    ("my SSN is 123-45-6789", "my SSN is [national id]"),
    ("ssn 078 05 1120.", "ssn [national id]."),
    ("NI number AB 12 34 56 C", "NI number [national id]"),
    ("ni AB123456C", "ni [national id]"),
    ("HMRC's example QQ 12 34 56 C", "HMRC's example [national id]"),  # a prefix never issued, redacted all the same
]
IPS = [
    ("blocked from 192.168.100.200.", "blocked from [ip]."),
    ("login from 8.8.8.8 at night", "login from [ip] at night"),
    ("ip 2001:db8::1 and fe80::1", "ip [ip] and [ip]"),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[ip]"),
]
OBFUSCATED_EMAILS = [
    ("write jane (at) example (dot) com", "write [email]"),
    ("jane[at]example.com", "[email]"),
    ("jane.doe {at} mail dot example dot co dot uk", "[email]"),
    ("reach me: john at example dot com", "reach me: [email]"),
    ("J.Doe [AT] Example [DOT] org!", "[email]!"),
]
HANDLES = [
    ("ping @maria_k on slack", "ping [handle] on slack"),
    ("thanks @jdoe_ops!", "thanks [handle]!"),
    ("cc @maria.k.", "cc [handle]."),
    ("@dataclass\nclass Order: ...", "[handle]\nclass Order: ..."),  # handles win over code text
    ("profile https://medium.com/@maria_k/latest", "profile https://medium.com/[handle]/latest"),
    ("https://example.com/share?to=jane@example.com", "https://example.com/share?to=[email]"),
]


@pytest.mark.parametrize(("text", "expected"), EMAILS + PHONES + CARDS + SECRET_URLS + HANDLES + IBANS + NATIONAL_IDS + IPS
                         + OBFUSCATED_EMAILS)
def test_personal_data_is_replaced_by_a_label(text, expected):
    assert redact(text) == expected
    assert redact(expected) == expected  # labels are never redacted again


@pytest.mark.parametrize("text", [
    # dates, times and datetimes (display renders datetimes as "2026-10-01 12:30")
    "on 2026-10-01 we had 1,234 items and 3.5 hours",
    "2026-10-01 12:30",
    "created 2026-10-01 02:30 by the import",
    "2026-10-01T09:30:00",
    "01.10.2026 09:30",
    "on 05.10.2026 10 tickets were closed",
    "open 09:30-17:00 on weekdays",
    "roadmap 2024-2026",
    # ids, versions, addresses and counts
    "ORD-2026-10-12345",
    "ticket 2026-10-00123",
    "build 2026.10.15.1234",
    "order 12345678 shipped",
    "order 5551234567 shipped",  # bare 10 digits: ambiguous with an order number, kept
    "ticket APP-1234 and version 2.3.1",
    "v2.3.1",
    "zero-padded id 0000012345",
    # amounts and percentages
    "total 123.456.789 EUR",
    "revenue 1 299 EUR",
    "price $1,299.00 (was $1,499.00)",
    "churn fell 12.5% to +3.25%",
    "grew +1,234 accounts",
    # links without secrets, and @ that are not handles
    "docs at https://example.com/docs/page",
    "https://docs.example.com/help?topic=keyboard-shortcuts",
    "read https://docs.example.com/help?topic=keyboard-shortcuts#section-key-points.",
    "https://shop.example.com/orders/415-555-0134?page=2",
    "https://app.example.com/reset/short-slug",
    "https://app.example.com/invite/",
    "use icon@2x.png and @2x assets",
    "meet @10am",
    "root@localhost",
    # card-like numbers that fail the Luhn check
    "4111111111111112 fails the Luhn check",
    "card 4111 1111 1111 1112",
    "5555-5555-5555-4445",
    "plain text without any personal data",
    # look-alikes of IBANs, national ids, IP addresses and obfuscated emails
    "DE89 3704 0044 0532 0130 01",  # fails mod 97
    "000-12-3456 and 666-12-3456 and 123-00-4567",  # never issued as SSNs
    "order 123456789 shipped",  # bare nine digits: kept
    "999.1.1.1",
    "at 10:30:00 today, build 1.2.3",
    "meet at home dot later",
    "stay at home.com",
    "ratio 3:2:1",
])
def test_ordinary_text_and_numbers_are_kept(text):
    assert redact(text) == text


def test_text_that_cannot_hold_personal_data_is_returned_as_is():
    text = "no digits, no at sign, no link here"
    assert redact(text) is text
    assert redact("") == ""


def test_redact_all_reaches_every_text_in_tables_and_nested_values():
    import pandas as pd

    from prodops_lib.privacy import redact_all

    table = pd.DataFrame({"note": ["mail jane@example.com", None], "n": [1, 2],
                          "from 10.0.0.1": ["x", "SSN 123-45-6789"]})
    clean = redact_all(table)
    assert clean["note"].iloc[0] == "mail [email]" and pd.isna(clean["note"].iloc[1])
    assert clean["n"].tolist() == [1, 2]
    assert list(clean.columns) == ["note", "n", "from [ip]"] and clean.iloc[1, 2] == "SSN [national id]"
    assert table.iloc[0, 0] == "mail jane@example.com", "the input is not changed"
    assert redact_all({"owner jane (at) example dot com": ["DE89 3704 0044 0532 0130 00", 3]}) == \
        {"owner [email]": ["[iban]", 3]}


def test_the_manifest_keeps_a_parameter_files_hash_but_not_its_personal_data(tmp_path):
    import hashlib

    from prodops_lib.report.manifest import _parameters_record

    path = tmp_path / "feedback.yaml"
    path.write_text("owner: jane.doe@example.com\nsql: select * from t where ip = '192.168.1.20'\n")
    record = _parameters_record("feedback.yaml", path)
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["contents"] == {"owner": "[email]", "sql": "select * from t where ip = '[ip]'"}
