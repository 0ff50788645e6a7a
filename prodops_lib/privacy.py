"""Redaction of personal data in free text: emails (also written as ``name (at) domain dot com``),
phone numbers, card numbers, IBANs, national id numbers (US SSN, UK National Insurance), IP
addresses, URLs that carry secrets, and @handles. Names of people are **not** detected: that
needs a named-entity model, which this kit does not ship.

Feedback is redacted before it is embedded or shown, and :mod:`prodops_lib.display` redacts
every string it renders (table cells included) as a second line of defence, so a work-item title
that mentions a customer's email never reaches a report either. It runs on every cell, so it is
one compiled scan, and text without a digit, ``@``, ``::``, ``://``, ``www.``, a bracketed
``at`` or the word ``dot`` is returned at once.

What is recognised, and the deliberate choices:

* **Email** (plus tags, dots, subdomains) and whole ``mailto:`` links become ``[email]``; so do
  emails written to dodge scrapers: ``jane (at) example (dot) com``, ``jane[at]example.com``,
  ``jane {at} example dot com``, and ``jane at example dot com`` when it ends in a common
  top-level domain (``com``, ``org``, ``net``, ``io``, a two-letter country …). A bare "at"
  with real dots (``meet at home.com``) is not an email.
* **Phone** (``[phone]``) in three shapes only: international ``+`` and 8–15 digits
  (``+447700900123``, ``+33 6 12 34 56 78``, ``+1 (415) 555-0134``); national with a trunk
  ``0`` and 10–12 digits, one kind of separator (``07700900123``, ``020 7946 0958``); North
  American ``(415) 555-0134`` / ``415.555.0134`` / ``1-415-555-0134``. Dates, times, versions,
  amounts and ids are none of these. A bare 10-digit number without ``+`` or a
  leading ``0`` (``5551234567``) looks exactly like an order number, so it is **left alone**, as
  are numbers glued to a word or a dash (``ORD-2026-10-12345``) or followed by ``:`` (a time).
* **Card** (``[card]``): 13–19 digits, bare or with spaces or dashes, that pass the Luhn check;
  a number failing Luhn is kept (so about 1 in 10 long random ids is redacted as a card).
* **IBAN** (``[iban]``): a country code, two check digits and 11–30 letters or digits, bare or
  in groups of four, in either case, that pass the ISO 13616 mod-97 check.
* **National id** (``[national id]``): a US Social Security number written ``123-45-6789`` or
  ``123 45 6789`` that is a valid one (area not 000, 666 or 900–999; group not 00; serial not
  0000), and a UK National Insurance number (two capital letters, six digits, A–D: ``QQ 12 34
  56 C``, HMRC's own example, whose prefix is never issued; any prefix is redacted, the safe
  side). A bare
  nine-digit number is an order number as often as an SSN, so it is **left alone**; other
  countries' ids are not recognised.
* **IP address** (``[ip]``): IPv4 (four numbers 0–255, so a four-part version ``1.2.3.4`` is
  redacted too: the safe side) and IPv6 in any valid notation (``2001:db8::1``, ``fe80::1%eth0``
  without the zone), checked with :mod:`ipaddress`; times (``10:30:00``) are not addresses.
* **URL** (``[url]``) only when it carries a secret: a query/fragment parameter *name*
  containing token, key, secret, sig(nature), password, passwd, session, auth, code, access or
  reset (``?api_key=``, ``#access_token=``; also ``?author=``, which is the safe side), a
  segment of 16+ ``[A-Za-z0-9_-]`` after ``/reset/``, ``/invite/`` or ``/token/``, or a password
  in the URL (``https://user:pw@host``). Other URLs are kept whole, with only the emails and
  ``/@handle`` path segments inside them redacted, and their digits are never read as phones.
* **Handle** (``[handle]``): ``@`` then a letter or ``_`` (``@maria_k``, ``@maria.k``); not
  the ``@`` of an email, nor one after a word (``icon@2x.png``), nor ``@2x`` or ``@10am``. An
  image name is not an email either. Decorators in pasted code (``@dataclass``) are redacted:
  in customer text a person's handle matters more than a readable snippet, and a decorator
  cannot be told apart from a handle reliably.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

__all__ = ["REDACTION_LABELS", "map_text", "redact", "redact_all"]

REDACTION_LABELS = ("[email]", "[phone]", "[card]", "[iban]", "[national id]", "[ip]", "[url]", "[handle]")

_EMAIL_PATTERN = (  # the top-level domain is not an image extension (icon@2x.png)
    r"(?<![\w.%+-])[\w.%+-]++@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.(?!(?:png|jpe?g|gif|svg|webp)\b)[A-Za-z]{2,}"
)
_TLDS = "com|org|net|edu|gov|io|co|info|biz|app|dev|me|ai|[a-z]{2}"
_AT = r"\s*[(\[{<]\s*at\s*[)\]}>]\s*"  # (at) [at] {at} <at>
_DOT = r"(?:\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+|\.)"
_OBFUSCATED_EMAIL_PATTERN = (
    rf"(?<![\w.+-])[\w.+-]+(?:{_AT}[A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+)*{_DOT}[A-Za-z]{{2,}}"
    rf"|\s+at\s+[A-Za-z0-9-]+(?:\s+dot\s+[A-Za-z0-9-]+)*\s+dot\s+(?:{_TLDS}))\b"
)
_PII = re.compile(
    # URLs (and mailto: links) as whole tokens, trailing punctuation left outside.
    r"(?P<url>(?:https?://|www\.|mailto:)[^\s<>\"']*[^\s<>\"'.,;:!?)\]])"
    rf"|(?P<email>{_EMAIL_PATTERN})"
    rf"|(?P<obfuscated_email>(?i:{_OBFUSCATED_EMAIL_PATTERN}))"
    r"|(?P<iban>(?<![\w])(?i:[a-z]{2}\d\d(?:[ ]?[a-z0-9]{4}){2,7}(?:[ ]?[a-z0-9]{1,3})?)(?![\w]))"
    r"|(?P<nino>(?<![\w])[A-Z]{2}(?: ?\d\d){3} ?[A-D](?![\w]))"
    r"|(?P<ssn>(?<![\w./+-])(?!000|666|9)\d{3}(?P<ssn_separator>[- ])(?!00)\d\d(?P=ssn_separator)(?!0000)\d{4}(?![\w%:/]|[.,-]\d))"
    r"|(?P<ipv4>(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d))"
    r"|(?P<ipv6>(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:]))"
    # Numbers: not glued to a word, decimal point, slash, plus or dash on the left ...
    r"|(?<![\w./+-])(?:"
    r"(?P<card>\d(?:[ -]?\d){12,18}+)"
    r"|(?P<international>\+\d(?:[ .-]?\(?\d+\)?)*+)"
    r"|(?P<national>\(?0[1-9]\d*+\)?(?:[ .-]?\d{2,})*+)"
    r"|(?P<north_american>(?:1[ .-]?)?(?:\([2-9]\d\d\)[ .-]?|[2-9]\d\d[ .-])[2-9]\d\d[ .-]\d{4})"
    # ... nor continued by a word, %, : (a time), / or another number group on the right.
    r")(?![\w%:/]|[.,-]\d)"
    r"|(?P<handle>(?<![\w.@/])@[A-Za-z_][\w.]*)"
)
_WORTH_SCANNING = re.compile(r"[\d@]|::|://|www\.|[(\[{<]\s*at\s*[)\]}>]|\bdot\b", re.IGNORECASE)
_SECRET_URL = re.compile(
    r"[?&#;][^=&#;?/\s]*(?:token|key|secret|sig|signature|password|passwd|session|auth|code"
    r"|access|reset)[^=&#;?/\s]*="
    r"|/(?:reset|invite|token)/[A-Za-z0-9_-]{16}"
    r"|://[^/@\s:]+:[^/@\s]*@",
    re.IGNORECASE,
)
_EMAIL = re.compile(_EMAIL_PATTERN)
_URL_HANDLE = re.compile(r"/@[\w.]*\w")
_NUMBER_SEPARATOR = re.compile(r"[ .-]")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _one_separator_kind(text: str) -> bool:
    return len(set(_NUMBER_SEPARATOR.findall(text))) <= 1


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def _url(text: str) -> str:
    if text[:7].lower() == "mailto:":
        return "[email]"
    if _SECRET_URL.search(text):
        return "[url]"
    return _URL_HANDLE.sub("/[handle]", _EMAIL.sub("[email]", text))


def _iban_valid(text: str) -> bool:
    """ISO 13616: the country code and check digits moved to the end, letters as 10–35, the
    number mod 97 is 1."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


def _ip_valid(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _replace(match: re.Match[str]) -> str:
    kind, text = match.lastgroup, match.group()
    if kind == "url":
        return _url(text)
    if kind in ("email", "obfuscated_email"):
        return "[email]"
    if kind == "iban":
        return "[iban]" if _iban_valid(text) else text
    if kind in ("ssn", "nino"):
        return "[national id]"
    if kind in ("ipv4", "ipv6"):
        return "[ip]" if _ip_valid(text) else text
    if kind == "handle":
        name = text.rstrip(".")
        return "[handle]" + text[len(name):]
    if kind == "card":
        return "[card]" if _luhn_valid(_digits(text)) else text
    if kind == "international":
        return "[phone]" if 8 <= len(_digits(text)) <= 15 else text
    if kind == "national":
        return "[phone]" if 10 <= len(_digits(text)) <= 12 and _one_separator_kind(text) else text
    return "[phone]"  # north_american: the pattern fixes the shape and the digit count


def redact(text: str) -> str:
    """``text`` with personal data replaced by a label (``[email]``, ``[phone]``, ``[card]``,
    ``[url]``, ``[handle]``); everything else, numbers that are not phones or cards included,
    is returned unchanged. See the module docstring for what is recognised and why."""
    if not text or not _WORTH_SCANNING.search(text):
        return text
    return _PII.sub(_replace, text)


def map_text(table: Any, function: Any) -> Any:
    """A copy of the DataFrame ``table`` with ``function`` applied to every text cell and text
    column name (numbers, dates and missing values untouched)."""
    import pandas as pd

    copy = table.copy()
    copy.columns = [function(name) if isinstance(name, str) else name for name in table.columns]
    for position in range(copy.shape[1]):
        series = copy.iloc[:, position]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            copy.isetitem(position, series.map(lambda v: function(v) if isinstance(v, str) else v))
    return copy


def redact_all(value: Any) -> Any:
    """:func:`redact` applied to every text inside ``value``: the cells and column names of a
    DataFrame, the keys and values of dicts, the items of lists; other values unchanged. Result
    files and the manifest are part of the report, so their text is redacted like the page's."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return map_text(value, redact)
    if isinstance(value, dict):
        return {redact_all(key): redact_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_all(item) for item in value]
    return redact(value) if isinstance(value, str) else value
