"""Counted nouns by the locale's plural rules (CLDR, through Babel): "1 alert", "2 alerts", never
"alert(s)". The words themselves are the caller's (English until the catalogs translate them)."""

from babel import Locale
from babel.numbers import format_decimal


def counted(count: int, one: str, other: str, locale: str = "en_US") -> str:
    form = Locale.parse(locale or "en_US").plural_form(abs(count))
    return f"{format_decimal(count, locale=locale or 'en_US')} {one if form == 'one' else other}"
