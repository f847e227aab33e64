"""api/bodies.py: bodies are read only up to the limit, and JSON is bounded before it is built."""

import asyncio
import json

import pytest
from starlette.requests import Request

from billing_portal.api.bodies import MAX_DEPTH, MAX_NUMBER_DIGITS, BadBody, check_bounds, parse_json, read_body


def _request(chunks: list[bytes], headers: dict[str, str] | None = None) -> tuple[Request, list[int]]:
    """A request whose body arrives in `chunks`; the list counts the chunks the app asked for."""
    asked = [0]

    async def receive():
        index = asked[0]
        asked[0] += 1
        return {"type": "http.request", "body": chunks[index], "more_body": index + 1 < len(chunks)}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [
        (name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]}
    return Request(scope, receive), asked


def test_a_body_under_the_limit_is_read_whole():
    request, _ = _request([b"a" * 100, b"b" * 100])
    assert asyncio.run(read_body(request, 1024)) == b"a" * 100 + b"b" * 100


def test_reading_stops_at_the_first_chunk_past_the_limit():
    request, asked = _request([b"x" * 600] * 100)  # 60 KB sent without a Content-Length
    with pytest.raises(BadBody) as refused:
        asyncio.run(read_body(request, 1024))
    assert (refused.value.status, refused.value.code) == (413, "body_too_large")
    assert asked[0] == 2  # the 98 chunks after it were never read


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    request, asked = _request([b"x"], {"Content-Length": "99999999"})
    with pytest.raises(BadBody) as refused:
        asyncio.run(read_body(request, 1024))
    assert refused.value.status == 413 and asked[0] == 0


@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
                                 b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), b"[" * 100_000])
def test_nesting_past_the_bound_is_a_clear_400(raw):
    with pytest.raises(BadBody) as refused:
        parse_json(raw)
    assert (refused.value.status, refused.value.code) == (400, "too_deep")
    assert f"{MAX_DEPTH} levels" in refused.value.message
    with pytest.raises(BadBody):
        check_bounds(raw)


def test_nesting_up_to_the_bound_and_brackets_inside_strings_are_fine():
    deepest = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert check_bounds(deepest) == deepest and parse_json(deepest) is not None
    assert parse_json(json.dumps({"note": "[" * 1000 + '\\"{'}).encode()) == {"note": "[" * 1000 + '\\"{'}
    assert check_bounds(b"[]" * 30_000)  # many brackets, never deep


@pytest.mark.parametrize("number", ["9" * 5000, "9" * (MAX_NUMBER_DIGITS + 1), "-" + "1" * 4400,
                                    "1." + "0" * 100, "1e999", "-1e999"])
def test_numbers_too_long_or_infinite_are_a_clear_400(number):
    with pytest.raises(BadBody) as refused:
        parse_json(f'{{"quantity": {number}}}'.encode())
    assert (refused.value.status, refused.value.code) == (400, "number_too_long")
    if "e" not in number:  # the raw check alone finds the long ones
        with pytest.raises(BadBody):
            check_bounds(f'[{number}]'.encode())


def test_long_digit_runs_inside_strings_are_not_numbers():
    assert parse_json(b'{"card_fingerprint": "' + b"1" * 500 + b'"}') == {"card_fingerprint": "1" * 500}


@pytest.mark.parametrize("raw", [b"NaN", b'{"a": Infinity}', b"-Infinity", b"{", b"\xff\xfe", b""])
def test_what_is_not_json_is_a_clear_400(raw):
    with pytest.raises(BadBody) as refused:
        parse_json(raw)
    assert refused.value.status == 400 and refused.value.code == "invalid_json"


def test_ordinary_json_reads_as_usual():
    assert parse_json(b'{"metric": "api_calls", "quantity": 120, "rate": 1.25, "n": null}') == {
        "metric": "api_calls", "quantity": 120, "rate": 1.25, "n": None}
    assert parse_json(("9" * MAX_NUMBER_DIGITS).encode()) == int("9" * MAX_NUMBER_DIGITS)
