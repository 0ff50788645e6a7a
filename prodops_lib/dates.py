"""Reading a column of dates the way a person would: one format for the whole column, found
from the data when none is set.

Exports write dates in many ways: ISO 8601 with a time zone (GitHub, Linear, REST APIs),
``12/Mar/24 10:15 AM`` (Jira's CSV), ``3/12/2024 10:15:00 AM`` (Azure DevOps in US English),
``12.03.2024 10:15`` (many European locales), with month names in the exporting user's
language (``12/Mär/24``). A column is read with one format, never value by value, which
would read 03/10/2026 as March and 13/10/2026 as October in the same column:

1. the ``date_format`` the user set, strictly;
2. else ISO 8601 (offsets converted to UTC) when every value is ISO;
3. else the format, among the tracker's usual one (``hint``), :data:`COMMON_FORMATS` and the
   one pandas guesses from the first value, that reads the most values of a sample; month
   names in another language are translated to English first (from the CLDR names that
   Babel ships). When day-first and month-first read the sample equally well, the reading
   says the order is ambiguous, so the user can set ``date_format``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import cache

import pandas as pd

__all__ = ["COMMON_FORMATS", "DateReading", "read_dates"]

COMMON_FORMATS = (
    "%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M", "%d/%b/%y",  # Jira
    "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y",  # US English
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",  # day first
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d.%m.%y %H:%M", "%d.%m.%y",
    "%d-%m-%Y %H:%M", "%d-%m-%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
    "%d %b %Y %H:%M", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d, %Y %I:%M %p",
    "%a %b %d %Y %H:%M:%S GMT%z",  # JavaScript's Date.toString(), as older Linear exports write it
)
# the zone's name after a JavaScript date, "(Central European Summer Time)": the offset says it all
_ZONE_NAME = r"\s+\([A-Za-z][^()]*\)$"
# the languages whose month names are translated; Babel ships their CLDR data
LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "pl", "sv", "da", "nb", "fi", "cs", "tr", "ru", "uk")
SAMPLE = 2_000
_ENGLISH = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ENGLISH_WORDS = {*_ENGLISH, "sept", "january", "february", "march", "april", "june", "july", "august", "september",
                  "october", "november", "december", "am", "pm", "a.m.", "p.m.", "t", "z", "utc", "gmt"}


@dataclass(frozen=True)
class DateReading:
    """A column read as dates (UTC; missing where unreadable) and how it was read, in words."""

    values: pd.Series
    how: str
    format: str | None  # None: ISO 8601

    @property
    def unreadable(self) -> int:
        return int(self.values.isna().sum())


def read_dates(values: pd.Series, date_format: str | None = None, hint: str | None = None) -> DateReading:
    """Date-times of a text column (see the module docstring). Blank cells stay missing. Each
    distinct text is read once, so a million dates that repeat cost little."""
    text = values.astype("string").str.strip()
    codes, distinct = pd.factorize(text.where(text != ""), use_na_sentinel=True)
    parsed, how, chosen = _read_distinct(pd.Series(distinct, dtype="string"), date_format, hint)
    full = pd.Series(pd.array(parsed, dtype="datetime64[ns, UTC]").take(codes, allow_fill=True), index=values.index)
    return DateReading(full, how, chosen)


def _read_distinct(text: pd.Series, date_format: str | None, hint: str | None) -> tuple[pd.Series, str, str | None]:
    if date_format:
        translated, language = _in_english(text) if re.search(r"%[bB]", date_format) else (text, None)
        how = f"format {date_format} (as set" + (f", month names in {_language_name(language)}" if language else "") + ")"
        return _parse(translated, date_format), how, date_format
    iso = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if int(iso.notna().sum()) == len(text):
        return iso, "ISO 8601" + (" (detected)" if len(text) else ""), None
    if text.str.contains("(", regex=False).any():
        text = text.str.replace(_ZONE_NAME, "", regex=True)
    sample = text.sample(SAMPLE, random_state=0) if len(text) > SAMPLE else text
    translated, language = _in_english(sample)
    candidates = list(dict.fromkeys([f for f in (hint, *COMMON_FORMATS, _guess(translated)) if f]))
    counts = {f: int(_parse(translated, f).notna().sum()) for f in candidates}
    best = max(candidates, key=lambda f: counts[f])  # the first wins a tie: the hint, then the list's order
    iso_count = int(pd.to_datetime(sample, format="ISO8601", errors="coerce", utc=True).notna().sum())
    if counts[best] <= iso_count:
        return iso, ("ISO 8601 (detected)" if iso_count else "no date format fits"), None
    full = _in_english(text, language)[0] if language else text
    source = "the tracker's usual format" if best == hint else "detected"
    how = f"format {best} ({source}" + (f", month names in {_language_name(language)}" if language else "") + ")"
    twin = _day_month_swapped(best)
    if twin and counts.get(twin, int(_parse(translated, twin).notna().sum())) == counts[best]:
        how += f"; day and month could be either way round ({twin} reads as many): set date_format to be sure"
    return _parse(full, best), how, best


def _language_name(language: str) -> str:
    from babel import Locale

    return Locale.parse(language).english_name


def _parse(text: pd.Series, date_format: str) -> pd.Series:
    return pd.to_datetime(text, format=date_format, errors="coerce", utc=True)


def _guess(text: pd.Series) -> str | None:
    from pandas.tseries.api import guess_datetime_format

    if not len(text):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas notes its day-first guess
        return guess_datetime_format(str(text.iloc[0]))


def _day_month_swapped(date_format: str) -> str | None:
    """The same format with day and month swapped, for slashes (dotted dates are day-first
    everywhere)."""
    if "%d/%m" in date_format:
        return date_format.replace("%d/%m", "%m/%d")
    if "%m/%d" in date_format:
        return date_format.replace("%m/%d", "%d/%m")
    return None


@cache
def _month_names(language: str) -> dict[str, str]:
    """Month names of ``language`` (wide, abbreviated, with and without a final dot and in
    the genitive and stand-alone forms) → English abbreviations, case-folded."""
    from babel.dates import get_month_names

    names: dict[str, str] = {}
    wide = get_month_names("wide", locale=language)
    prefixes = [name.casefold()[:3] for name in wide.values()]
    for number, prefix in enumerate(prefixes, start=1):  # Java's short names ("Mär", "Okt") where unambiguous
        if prefixes.count(prefix) == 1 and prefix.isalpha():
            names[prefix] = _ENGLISH[number - 1]
    for width in ("wide", "abbreviated"):
        for context in ("format", "stand-alone"):
            for number, name in get_month_names(width, context=context, locale=language).items():
                folded = name.casefold()
                names[folded] = names[folded.rstrip(".")] = _ENGLISH[number - 1]
    return names


_WORD = re.compile(r"[^\W\d_]+\.?", re.UNICODE)


def _in_english(text: pd.Series, language: str | None = None) -> tuple[pd.Series, str | None]:
    """``text`` with the month names of one language replaced by English abbreviations, and
    that language (None when the words are English or no language's names match)."""
    words = {w.casefold() for value in text.dropna().head(SAMPLE) for w in _WORD.findall(str(value))}
    words = {w for w in words if w.rstrip(".") not in _ENGLISH_WORDS and w not in _ENGLISH_WORDS}
    if language is None:
        if not words:
            return text, None
        scores = {lang: len(words & _month_names(lang).keys()) for lang in LANGUAGES}
        language = max(LANGUAGES, key=lambda lang: scores[lang])
        if scores[language] == 0:
            return text, None
    names = _month_names(language)
    pattern = re.compile(r"(?<![^\W\d_])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True))
                         + r")(?![^\W\d_])", re.IGNORECASE | re.UNICODE)
    return text.str.replace(pattern, lambda m: names.get(m.group(0).casefold(), m.group(0)), regex=True), language
