"""techbridge.money: exact parsing of what people type, display per language, the form's
round trip, and arithmetic that never mixes currencies."""

from __future__ import annotations

import ast
import inspect
import itertools
import random
import re
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest

from techbridge import money as money_module
from techbridge.catalog import schemas
from techbridge.money import (
    MAX_MINOR,
    MINOR_DIGITS,
    CurrencyMismatch,
    Money,
    UnknownCurrency,
    amount_text,
    format_money,
    minor_digits,
    parse_amount,
    wan_text,
)


def minor(text: str, currency: str = "CNY") -> int | None:
    amount = parse_amount(text, currency)
    return None if amount is None else amount.minor


# --- decimals per currency ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("CNY", 2),
        ("USD", 2),
        ("EUR", 2),
        ("HKD", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
    ],
)
def test_each_currency_has_its_iso_decimals(currency: str, digits: int) -> None:
    assert minor_digits(currency) == digits


@pytest.mark.parametrize("code", ["XYZ", "cny", "RMB", "", "CNYY", None])
def test_an_unknown_currency_is_refused_by_name_never_guessed(code: str) -> None:
    for attempt in (
        lambda: minor_digits(code),
        lambda: Money(100, code),
        lambda: parse_amount("1", code),
        lambda: Money.zero(code),
    ):
        with pytest.raises(UnknownCurrency, match=re.escape(repr(code))):
            attempt()
    assert issubclass(UnknownCurrency, ValueError)


def test_no_function_has_a_default_currency() -> None:
    functions = [
        member
        for _name, member in inspect.getmembers(money_module, inspect.isfunction)
        if member.__module__ == money_module.__name__
    ] + [Money.zero, Money.sum]
    for function in functions:
        for parameter in inspect.signature(function).parameters.values():
            if parameter.name == "currency":
                assert parameter.default is inspect.Parameter.empty, function.__name__


def test_money_is_shared_core_importing_no_domain_or_web_module() -> None:
    tree = ast.parse(Path(money_module.__file__).read_text("utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name for name in imported if name.startswith("techbridge")} <= {"techbridge.errors"}


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("1200000.50", 120_000_050),
        ("1,200,000.50", 120_000_050),
        ("1,200", 120_000),
        ("0", 0),
        ("0.5", 50),
        ("0.05", 5),
        ("007", 700),
        ("  7 ", 700),
        ("１２．３４", 1234),  # full-width, as Chinese input methods type
        ("１，２００．５", 120_050),
        ("120万", 120_000_000),
        ("1.5万", 1_500_000),
        ("1.2345万", 1_234_500),  # 12,345 元: the decimals count after 万 is applied
        ("1.234567万", 1_234_567),
        ("3亿", 30_000_000_000),
        ("0.001亿", 10_000_000),
        ("120万元", 120_000_000),
        ("5000元", 500_000),
        ("5,000.5元", 500_050),
        ("¥5000", 500_000),
        ("￥１２０万", 120_000_000),
        ("¥1,200万元", 1_200_000_000),
        ("120萬", 120_000_000),  # traditional characters
        ("3億元", 30_000_000_000),
    ],
)
def test_typed_amounts_become_exact_minor_units(typed: str, fen: int) -> None:
    assert parse_amount(typed, "CNY") == Money(fen, "CNY")


@pytest.mark.parametrize("typed", ["", "   ", "\u3000"])
def test_nothing_typed_is_no_amount(typed: str) -> None:
    assert parse_amount(typed, "CNY") is None


@pytest.mark.parametrize(
    "typed",
    [
        "12abc",
        "abc",
        "1,2,3",
        "1,00",
        "10,00,000",  # grouped by lakhs, not thousands
        "1,0000",
        ",100",
        "1,000.",
        ".5",
        "1.",
        "1.234",  # more decimals than 分
        "1.230",
        "1.2345678万",  # 12,345.678 元
        "1 000",
        "12 万",
        "１２０\u3000万",
        "¥ 12",
        "-1",
        "+1",
        "-1万",
        "1e3",
        "NaN",
        "Infinity",
        "١٢",  # Arabic-Indic digits
        "12.3.4",
        "万",
        "元",
        "¥",
        "万元",
        "12元万",
        "12万万",
        "12千",
        "十二",
        "$12",
        "12 CNY",
        "0x10",
    ],
)
def test_what_is_not_an_amount_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(typed, "CNY")


def test_the_limit_is_exact_and_checked_before_arithmetic() -> None:
    top = Decimal(MAX_MINOR) / 100  # 10 trillion yuan
    assert minor(f"{top}") == MAX_MINOR
    assert minor(f"{top:,}.00") == MAX_MINOR
    assert minor("1000000000万") == MAX_MINOR
    assert minor("100000亿元") == MAX_MINOR
    for over in (f"{top}.01", "1000000000.0001万", "100000.00000001亿", str(10**20), "9" * 5000):
        with pytest.raises(OverflowError):
            minor(over)
    assert parse_amount(str(MAX_MINOR), "JPY") == Money(MAX_MINOR, "JPY")
    with pytest.raises(OverflowError):
        parse_amount(str(MAX_MINOR + 1), "JPY")
    assert schemas.MAX_FEN == MAX_MINOR  # the catalog's bound is this one


@pytest.mark.parametrize(
    ("typed", "currency", "expected"),
    [
        ("1200", "JPY", 1200),
        ("1,200", "JPY", 1200),
        ("12万", "JPY", 120_000),
        ("1.5万", "JPY", 15_000),
        ("12.34", "USD", 1234),
        ("12万", "USD", 12_000_000),  # 万 is a number: 12万美元 is 120,000 dollars
        ("1.005", "KWD", 1005),
    ],
)
def test_other_currencies_use_their_own_decimals(typed: str, currency: str, expected: int) -> None:
    assert parse_amount(typed, currency) == Money(expected, currency)


@pytest.mark.parametrize(
    ("typed", "currency"),
    [
        ("12.5", "JPY"),  # a yen has no decimals
        ("12.0", "JPY"),
        ("1.00001万", "JPY"),
        ("1.0001", "KWD"),
        ("¥1200", "JPY"),  # ¥ and 元 belong to CNY here: the form's currency decides
        ("1200元", "USD"),
        ("12万元", "HKD"),
    ],
)
def test_other_currencies_refuse_what_they_cannot_hold(typed: str, currency: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(typed, currency)


def _old_parse_yuan(text: str) -> int | None:
    """``web.listing_pages.parse_yuan`` as it was before techbridge.money (the reference)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    if not re.fullmatch(r"([0-9]+|[0-9]{1,3}(,[0-9]{3})+)(\.[0-9]{1,2})?", text):
        raise ValueError("not an amount in yuan")
    amount = Decimal(text.replace(",", ""))
    if amount > Decimal(MAX_MINOR) / 100:
        raise OverflowError("amount too large")
    return int(amount * 100)


def _outcome(parse: object, text: str) -> object:
    try:
        return parse(text)  # type: ignore[operator]
    except OverflowError:
        return OverflowError
    except ValueError:
        return ValueError


def test_every_amount_the_old_form_accepted_or_refused_still_is() -> None:
    """Every string of up to five characters from digits, separators, full-width forms,
    spaces and signs gets the same answer as before (万, 亿, 元 and ¥ are the additions)."""
    alphabet = ["0", "1", "5", ",", ".", "１", "．", "，", " ", "-", "e"]
    texts = [
        "".join(chars) for size in range(6) for chars in itertools.product(alphabet, repeat=size)
    ]
    texts += ["1,000,000", "12,345.67", "999,999,999.99", "10000000000000", "10000000000000.01"]
    for text in texts:
        assert _outcome(lambda t: minor(t), text) == _outcome(_old_parse_yuan, text), repr(text)


# --- the form's round trip ----------------------------------------------------------------

ROUND_TRIP = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 10**6, 10**6 + 1, 123_456_789, MAX_MINOR]


@pytest.mark.parametrize("currency", ["CNY", "USD", "JPY", "KWD"])
def test_what_a_form_shows_reads_back_as_the_same_amount(currency: str) -> None:
    picks = random.Random(10).sample(range(MAX_MINOR + 1), 2000)
    for value in ROUND_TRIP + picks:
        amount = Money(value, currency)
        assert parse_amount(amount_text(amount), currency) == amount, value
    assert amount_text(None) == ""


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Money(120_000_050, "CNY"), "1200000.50"),
        (Money(0, "CNY"), "0.00"),
        (Money(5, "CNY"), "0.05"),
        (Money(1200, "JPY"), "1200"),
        (Money(1005, "KWD"), "1.005"),
        (Money(-1234, "USD"), "-12.34"),
    ],
)
def test_form_text_is_the_plain_amount(amount: Money, text: str) -> None:
    assert amount_text(amount) == text


# --- display ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "zh", "en"),
    [
        (Money(123_456_789, "CNY"), "CNY 1,234,567.89", "CNY 1,234,567.89"),
        (Money(100, "CNY"), "CNY 1.00", "CNY 1.00"),
        (Money(0, "CNY"), "CNY 0.00", "CNY 0.00"),
        (Money(999_999, "CNY"), "CNY 9,999.99", "CNY 9,999.99"),  # under 1万元: no reading
        (Money(1_000_000, "CNY"), "CNY 10,000.00（1万元）", "CNY 10,000.00"),
        (Money(1_500_000, "CNY"), "CNY 15,000.00（1.5万元）", "CNY 15,000.00"),
        (Money(120_000_000, "CNY"), "CNY 1,200,000.00（120万元）", "CNY 1,200,000.00"),
        (Money(120_000_050, "CNY"), "CNY 1,200,000.50", "CNY 1,200,000.50"),  # 120.00005万: none
        (Money(1_234_500, "CNY"), "CNY 12,345.00", "CNY 12,345.00"),  # 1.2345万: none
        (Money(1_234_000, "CNY"), "CNY 12,340.00", "CNY 12,340.00"),  # 1.234万: none
        (Money(30_000_000_000, "CNY"), "CNY 300,000,000.00（3亿元）", "CNY 300,000,000.00"),
        (Money(15_000_000_000, "CNY"), "CNY 150,000,000.00（1.5亿元）", "CNY 150,000,000.00"),
        (Money(12_340_000_000, "CNY"), "CNY 123,400,000.00（12340万元）", "CNY 123,400,000.00"),
        (
            Money(MAX_MINOR, "CNY"),
            "CNY 10,000,000,000,000.00（100000亿元）",
            "CNY 10,000,000,000,000.00",
        ),
        (Money(120_050, "USD"), "USD 1,200.50", "USD 1,200.50"),
        (Money(120_000_000, "USD"), "USD 1,200,000.00", "USD 1,200,000.00"),  # 万元 is for CNY
        (Money(1_200_000, "JPY"), "JPY 1,200,000", "JPY 1,200,000"),  # yen have no decimals
        (Money(1005, "KWD"), "KWD 1.005", "KWD 1.005"),
        (Money(-120_000_000, "CNY"), "CNY -1,200,000.00", "CNY -1,200,000.00"),
    ],
)
def test_display_per_language(amount: Money, zh: str, en: str) -> None:
    assert format_money(amount, "zh") == zh
    assert format_money(amount, "en") == en


def test_the_wan_reading_is_exact_or_absent() -> None:
    assert wan_text(Money(120_000_000, "CNY")) == "120万元"
    assert wan_text(Money(1_000_000 + 10_000, "CNY")) == "1.01万元"
    assert wan_text(Money(1_000_000 + 100, "CNY")) is None  # 1.0001万
    assert wan_text(Money(10_100_000_000, "CNY")) == "1.01亿元"
    assert wan_text(Money(120_000_000, "HKD")) is None
    # Whatever reading there is states the amount exactly: read back, it is the same.
    for value in range(0, 3 * 10**10, 7_000_000):
        amount = Money(value, "CNY")
        reading = wan_text(amount)
        if reading is not None:
            assert parse_amount(reading, "CNY") == amount, reading


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError):
        format_money(Money(1, "CNY"), "fr")


# --- arithmetic ---------------------------------------------------------------------------


def test_same_currency_arithmetic() -> None:
    a, b = Money(1050, "CNY"), Money(250, "CNY")
    assert a + b == Money(1300, "CNY")
    assert a - b == Money(800, "CNY")
    assert b - a == Money(-800, "CNY")
    assert -a == Money(-1050, "CNY")
    assert a - a == Money.zero("CNY")
    assert b < a and b <= a and a > b and a >= b and a <= a and a >= a
    assert sorted([a, b, Money.zero("CNY")]) == [Money(0, "CNY"), b, a]
    assert Money.sum([a, b, -a], "CNY") == b
    assert Money.sum([], "JPY") == Money(0, "JPY")
    assert len({Money(1, "CNY"), Money(1, "CNY"), Money(1, "USD")}) == 2  # values, hashable


def test_currencies_never_mix() -> None:
    yuan, dollars = Money(100, "CNY"), Money(100, "USD")
    assert yuan != dollars  # equal numbers, different amounts
    for combine in (
        lambda: yuan + dollars,
        lambda: yuan - dollars,
        lambda: yuan < dollars,
        lambda: yuan <= dollars,
        lambda: yuan > dollars,
        lambda: yuan >= dollars,
        lambda: Money.sum([yuan, dollars], "CNY"),
        lambda: Money.sum([yuan], "USD"),
    ):
        with pytest.raises(CurrencyMismatch, match=r"CNY.*USD|USD.*CNY"):
            combine()
    assert issubclass(CurrencyMismatch, ValueError)


def test_a_bare_number_is_not_money() -> None:
    with pytest.raises(TypeError):
        Money(100, "CNY") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        sum([Money(100, "CNY")])  # type: ignore[list-item]  # Money.sum names the currency
    with pytest.raises(TypeError):
        assert Money(1, "CNY") < 2  # type: ignore[operator]
    for not_minor in (12.5, Decimal("12"), "12", True):
        with pytest.raises(TypeError):
            Money(not_minor, "CNY")  # type: ignore[arg-type]


def test_money_is_immutable() -> None:
    amount = Money(100, "CNY")
    with pytest.raises(AttributeError):
        amount.minor = 200  # type: ignore[misc]
    assert str(amount) == "CNY 1.00"


def test_the_table_is_well_formed() -> None:
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in MINOR_DIGITS)
    assert set(MINOR_DIGITS.values()) <= {0, 2, 3}
