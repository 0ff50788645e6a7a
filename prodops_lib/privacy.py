"""Redaction of personal data in free text: emails, phone numbers, card numbers, URLs that carry
secrets, and @handles.

Feedback is redacted before it is embedded or shown, and :mod:`prodops_lib.display` redacts
every string it renders (table cells included) as a second line of defence, so a work-item title
that mentions a customer's email never reaches a report either. It runs on every cell, so it is
one compiled scan, and text without a digit, ``@``, ``://`` or ``www.`` is returned at once.

What is recognised, and the deliberate choices:

* **Email** (plus tags, dots, subdomains) and whole ``mailto:`` links become ``[email]``.
* **Phone** (``[phone]``) in three shapes only: international ``+`` and 8–15 digits
  (``+447700900123``, ``+33 6 12 34 56 78``, ``+1 (415) 555-0134``); national with a trunk
  ``0`` and 10–12 digits, one kind of separator (``07700900123``, ``020 7946 0958``); North
  American ``(415) 555-0134`` / ``415.555.0134`` / ``1-415-555-0134``. Dates, times, versions,
  IP addresses, amounts and ids are none of these. A bare 10-digit number without ``+`` or a
  leading ``0`` (``5551234567``) looks exactly like an order number, so it is **left alone**, as
  are numbers glued to a word or a dash (``ORD-2026-10-12345``) or followed by ``:`` (a time).
* **Card** (``[card]``): 13–19 digits, bare or with spaces or dashes, that pass the Luhn check;
  a number failing Luhn is kept (so about 1 in 10 long random ids is redacted as a card).
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

import re

__all__ = ["REDACTION_LABELS", "redact"]

REDACTION_LABELS = ("[email]", "[phone]", "[card]", "[url]", "[handle]")

_EMAIL_PATTERN = (  # the top-level domain is not an image extension (icon@2x.png)
    r"(?<![\w.%+-])[\w.%+-]++@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.(?!(?:png|jpe?g|gif|svg|webp)\b)[A-Za-z]{2,}"
)
_PII = re.compile(
    # URLs (and mailto: links) as whole tokens, trailing punctuation left outside.
    r"(?P<url>(?:https?://|www\.|mailto:)[^\s<>\"']*[^\s<>\"'.,;:!?)\]])"
    rf"|(?P<email>{_EMAIL_PATTERN})"
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
_WORTH_SCANNING = re.compile(r"[\d@]|://|www\.", re.IGNORECASE)
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


def _replace(match: re.Match[str]) -> str:
    kind, text = match.lastgroup, match.group()
    if kind == "url":
        return _url(text)
    if kind == "email":
        return "[email]"
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
