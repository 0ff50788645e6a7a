"""Redaction of personal data in free text: emails, phone numbers, card numbers, URLs that carry
secrets, and @handles.

Feedback is redacted before it is embedded or shown, and :mod:`prodops_lib.display` redacts
every string it renders as a second line of defence, so a work-item title that mentions a
customer's email never reaches a report either. The patterns are deliberately conservative
about numbers: dates, amounts and ids are not phone numbers (a phone needs 9–15 digits in
groups, and a card number must pass the Luhn check).
"""

from __future__ import annotations

import re

__all__ = ["REDACTION_LABELS", "redact"]

REDACTION_LABELS = ("[email]", "[phone]", "[card]", "[url]", "[handle]")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SECRET_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"']*[?&#](?:[^\s<>\"']*?)"
    r"(?:token|key|secret|sig|signature|code|password|passwd|session|auth|access|reset)[^\s<>\"']*",
    re.IGNORECASE,
)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,6}){1,4}(?![\w-])"
)
_HANDLE = re.compile(r"(?<![\w.@/])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?\b")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if 13 <= len(digits) <= 19 and _luhn_valid(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = re.sub(r"\D", "", text)
    if not 9 <= len(digits) <= 15:
        return text
    if re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}", text.strip()):
        return text  # a date
    international = text.lstrip().startswith(("+", "("))
    groups = len(re.findall(r"\d+", text))
    national = text.lstrip().startswith("0") and len(digits) >= 10  # e.g. 07700 900123
    return "[phone]" if international or national or groups >= 3 else text


def redact(text: str) -> str:
    """``text`` with personal data replaced by a label (``[email]``, ``[phone]``, …)."""
    if not text:
        return text
    text = _SECRET_URL.sub("[url]", text)
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub(_card, text)
    text = _PHONE.sub(_phone, text)
    return _HANDLE.sub("[handle]", text)
