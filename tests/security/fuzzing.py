"""Shared hypothesis settings and strategies of the fuzzers.

FUZZ_EXAMPLES sets how many examples each fuzz test draws: small in `make test`, large in
`make soak`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def fuzz_settings(default: int) -> settings:
    """`default` examples per test unless FUZZ_EXAMPLES says otherwise; no deadline (shared CPUs)."""
    examples = int(os.environ.get("FUZZ_EXAMPLES") or default)
    return settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))


# Any text a browser can send: every code point, control characters included, up to long.
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
nasty = st.one_of(
    texts,
    st.sampled_from(["", " ", "0", "-1", "1e309", "NaN", "null", "[]", "{}", "1.5", "9" * 40, "'; DROP TABLE x;--",
                     "\x00", "\u202e", "../../etc/passwd", "%00", "🙂" * 50, "a" * 5000, "<script>x</script>",
                     "\r\n", "\t", "\u200b", "１２", "٣", "𝟙"]),
)
# Amounts that are never right for a USD field: negative, zero, fractional past the cents, huge,
# in another currency, or not a number at all.
bad_amounts = st.one_of(
    st.integers(min_value=-10**30, max_value=0).map(str),
    st.integers(min_value=-10**6, max_value=-1).map(lambda n: f"{n / 100:.2f}"),
    st.integers(min_value=0, max_value=10**6).map(lambda n: f"{n // 1000}.{n % 1000:03d}1"),  # past the cents
    st.integers(min_value=10**15, max_value=10**40).map(str),
    st.sampled_from(["₩1,000", "¥500", "€1", "1 EUR", "KRW 100", "100 KRW", "£2", "1 BTC", "0.001", "1.005",
                     "NaN", "nan", "inf", "-inf", "1e3", "1E-2", "0x10", "--1", "1-", "(5)", "$-1", "-$1",
                     "0", "0.00", "$0", "1,00,0.0.0", "½", "", " ", "\x00", "9" * 400]),
    texts.filter(lambda t: not any(c.isdigit() for c in t)),
)
ids = st.one_of(st.integers(min_value=-10**20, max_value=10**20).map(str), nasty)
dates = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "10000-01-01", "-2026-01-01",
                     "2026-1-1", "1970-01-01T00:00", "31/12/2026", "today", "2026-12-03\x00", ""]),
    st.dates().map(str), nasty,
)


# Bodies that attack the parser rather than the rules (billing_portal/api/bodies.py): numbers far
# past any field (thousands of digits, or just past 64 bits), JSON nested past any sane depth, and
# bodies over the route's limit. Each is raw JSON text: json.dumps cannot make most of them.
overlong_numbers = st.one_of(  # past the parser's bound: refused before anything reads them
    st.integers(min_value=41, max_value=6000).map(lambda digits: "9" * digits),
    st.integers(min_value=41, max_value=500).map(lambda digits: "-1" + "0" * digits),
    st.sampled_from(["1" + "0" * 400 + ".5", "0." + "3" * 60, "1e" + "9" * 50]),
)
big_numbers = st.one_of(  # within the bound, past any field: the rules must refuse them
    st.integers(min_value=2**63 - 1, max_value=10**39).map(str),
    st.integers(min_value=2**63, max_value=10**39).map(lambda n: f"-{n}"),
    st.sampled_from(["1e999", "-1e999", "1e-999", "123456789012345678901234567890.1", "1e308"]),
)
huge_numbers = overlong_numbers | big_numbers
deep_nesting = st.tuples(st.integers(min_value=65, max_value=50_000), st.sampled_from(["[", '{"a":'])).map(
    lambda spec: spec[1] * spec[0] + "1" + ("]" if spec[1] == "[" else "}") * spec[0])


def oversize(limit: int) -> st.SearchStrategy[bytes]:
    """A JSON body just past `limit` bytes, or far past it."""
    return st.integers(min_value=limit + 1, max_value=limit * 4).map(
        lambda size: b'{"metric": "' + b"x" * size + b'", "quantity": 1}')
