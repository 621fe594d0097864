"""Money: amounts in integer minor units (分, cents, …) that always carry their currency.

An amount is a :class:`Money`, a frozen ``(minor, currency)`` value, rather than a bare int
beside a currency code: the exchange's double-entry journals add, negate and compare
amounts, and a bare int loses its currency at the first addition. ``Money`` cannot: adding,
subtracting or ordering two currencies raises :class:`CurrencyMismatch`. Databases keep
plain integer minor units beside a currency column (``price_fen`` and ``currency``); Money
is the value in Python. Nothing here has a default currency: every call names one.

Rules, in one place:

- **Decimals per currency** are ISO 4217's exponents (:data:`MINOR_DIGITS`: CNY 2, JPY 0,
  KWD 3, …). An unknown code raises :class:`UnknownCurrency`; it is never guessed.
- **Parsing** (:func:`parse_amount`) is exact (Decimal, never float). After Unicode NFKC
  (full-width ``１２．３４``, ``１，２００`` and ``￥`` as Chinese input methods type them):
  digits, optionally in well-formed thousands groups (``1,200,000.50``), an optional
  fraction, then optionally 万 (10⁴) or 亿 (10⁸) (萬, 億 too). For CNY only, also a leading
  ``¥`` and a trailing 元 (``¥1,200``, ``120万元``). At most the currency's decimals after
  the 万/亿 is applied ("1.234" 元 is refused, "1.2345万" is 12,345 元). No signs, exponents, spaces
  inside, or other units. Empty text is ``None``; what is not an amount raises ValueError;
  more than :data:`MAX_MINOR` raises OverflowError, decided exactly before any arithmetic.
- **Form text** (:func:`amount_text`) is the plain amount a form field shows again,
  ``1200000.50``: parsing it gives back the same Money.
- **Display** (:func:`format_money`) is the ISO code and the exact amount grouped by
  thousands, in both languages: ``CNY 1,200,000.50``, ``USD 12.00``, ``JPY 1,200``. The code,
  not a sign: ¥ is both yuan and yen, and 元 also ends 美元, 日元 and 港元. In Chinese, a CNY
  amount of at least 1万元 that is a whole number of 0.01万 (or of 0.01亿 when at least
  1亿) is followed by that reading: ``CNY 1,200,000.00（120万元）``, ``CNY 300,000,000.00
  （3亿元）``; any other amount has none, so nothing shown is ever rounded
  (:func:`wan_text` gives the reading alone).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

# 10 trillion yuan in 分: far above any real deal, far below BIGINT's limit (2**63 - 1).
MAX_MINOR = 10**15

# ISO 4217 minor-unit exponents of the currencies the platform is likely to see.
# fmt: off
MINOR_DIGITS: dict[str, int] = {
    # 人民币 and the region
    "CNY": 2, "HKD": 2, "MOP": 2, "TWD": 2,
    "JPY": 0, "KRW": 0, "VND": 0,
    "SGD": 2, "MYR": 2, "THB": 2, "IDR": 2, "PHP": 2, "INR": 2, "PKR": 2, "BDT": 2,
    "LKR": 2, "NPR": 2, "KZT": 2, "UZS": 2, "MNT": 2,
    # Americas, Europe, Oceania
    "USD": 2, "CAD": 2, "MXN": 2, "BRL": 2, "ARS": 2, "COP": 2, "PEN": 2, "CLP": 0,
    "EUR": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "ISK": 0, "PLN": 2,
    "CZK": 2, "HUF": 2, "RON": 2, "RUB": 2, "UAH": 2, "TRY": 2,
    "AUD": 2, "NZD": 2,
    # Middle East and Africa
    "AED": 2, "SAR": 2, "QAR": 2, "ILS": 2, "EGP": 2, "MAD": 2, "ZAR": 2, "NGN": 2,
    "KES": 2, "UGX": 0, "XAF": 0, "XOF": 0,
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "IQD": 3, "LYD": 3, "TND": 3,
}
# fmt: on

LANGS = ("zh", "en")  # what format_money writes in

# After NFKC: an optional ¥, digits (plain or in thousands groups), an optional fraction, an
# optional 万 or 亿 (萬, 億), an optional 元. That ¥ and 元 are for CNY only is checked after.
_AMOUNT = re.compile(
    r"(?P<symbol>¥)?"
    r"(?P<number>(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.[0-9]+)?)"
    r"(?P<unit>[万萬亿億])?"
    r"(?P<yuan>元)?"
)
_UNITS = {None: 0, "万": 4, "萬": 4, "亿": 8, "億": 8}  # powers of ten (萬, 億: traditional)
CNY = "CNY"  # the one currency that ¥, 元 and the 万元 reading belong to


class CurrencyError(ValueError):
    """Base of the currency errors (a ValueError, so validators report it as bad input)."""


class UnknownCurrency(CurrencyError):
    def __init__(self, currency: object) -> None:
        super().__init__(f"unknown currency code {currency!r}")
        self.currency = currency


class CurrencyMismatch(CurrencyError):
    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"cannot combine amounts in {left} and {right}")
        self.currencies = (left, right)


def minor_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has (CNY 2, JPY 0, KWD 3)."""
    try:
        return MINOR_DIGITS[currency]
    except (KeyError, TypeError):
        raise UnknownCurrency(currency) from None


def known_currency(currency: str) -> str:
    """The code itself when :data:`MINOR_DIGITS` knows it, else :class:`UnknownCurrency`."""
    minor_digits(currency)
    return currency


@dataclass(frozen=True, slots=True)
class Money:
    """``minor`` units (分 for CNY) of ``currency``. Negative amounts exist (a journal's
    credits, a balance); what people type is never negative (:func:`parse_amount`)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError(f"minor units must be an int, not {type(self.minor).__name__}")
        minor_digits(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def sum(cls, items: Iterable[Money], currency: str) -> Money:
        """The total of ``items``, all in ``currency`` (zero of it when there are none)."""
        total = cls.zero(currency)
        for item in items:
            total = total + item
        return total

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor >= other.minor

    def __str__(self) -> str:
        return f"{self.currency} {amount_text(self)}"


def parse_amount(text: str, currency: str) -> Money | None:
    """What someone typed as an amount of ``currency``, exactly (see the module's rules).
    Empty means none; what is not an amount raises ValueError, too much OverflowError."""
    digits = minor_digits(currency)
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise ValueError(f"not an amount in {currency}")
    if (match["symbol"] or match["yuan"]) and currency != CNY:
        raise ValueError(f"¥ and 元 are for amounts in {CNY}, not {currency}")
    amount = Decimal(match["number"].replace(",", ""))  # exact: Decimal(str) never rounds
    shift = digits + _UNITS[match["unit"]]  # minor units = amount × 10**shift
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # the pattern admits no NaN or infinity
    if exponent + shift < 0:
        raise ValueError(f"more decimals than {currency} has ({digits})")
    if amount > Decimal(MAX_MINOR).scaleb(-shift):  # compared exactly, before any arithmetic
        raise OverflowError("amount too large")
    coefficient = int("".join(map(str, amount.as_tuple().digits)))
    return Money(coefficient * 10 ** (exponent + shift), currency)


def _major_and_fraction(money: Money) -> tuple[str, int, str]:
    """Sign, whole units and the fraction's digits ("" for a currency without decimals)."""
    digits = minor_digits(money.currency)
    major, minor = divmod(abs(money.minor), 10**digits)
    return ("-" if money.minor < 0 else ""), major, f"{minor:0{digits}d}" if digits else ""


def amount_text(money: Money | None) -> str:
    """The plain amount a form field shows ("1200000.50"; "" for none), which
    :func:`parse_amount` reads back as the same Money."""
    if money is None:
        return ""
    sign, major, fraction = _major_and_fraction(money)
    return f"{sign}{major}.{fraction}" if fraction else f"{sign}{major}"


def wan_text(money: Money) -> str | None:
    """The 万元 / 亿元 reading of a CNY amount of at least 1万元 that it states exactly with
    at most two decimals ("120万元", "1.5亿元"); None for any other amount."""
    if money.currency != CNY:
        return None
    for unit, power in (("亿", 8), ("万", 4)):
        step = 10 ** (power + minor_digits(CNY))  # minor units in one 万 or 亿
        hundredths = step // 100
        if money.minor >= step and money.minor % hundredths == 0:
            whole, part = divmod(money.minor // hundredths, 100)
            number = f"{whole}.{part:02d}".rstrip("0").rstrip(".")
            return f"{number}{unit}元"
    return None


def format_money(money: Money, lang: str) -> str:
    """An amount as a page shows it in ``lang`` ("zh" or "en"): the ISO code and the exact
    amount grouped by thousands, and in Chinese the exact 万元 / 亿元 reading where there
    is one ("CNY 1,200,000.00（120万元）")."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    sign, major, fraction = _major_and_fraction(money)
    text = f"{money.currency} {sign}{major:,}" + (f".{fraction}" if fraction else "")
    reading = wan_text(money) if lang == "zh" else None
    return f"{text}（{reading}）" if reading else text
