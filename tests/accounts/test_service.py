"""The accounts service on both engines, without HTTP: how login attempts are counted and
slowed down, for one address and for one client, alone and in a burst."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

import factories
from support import PASSWORD
from techbridge.accounts import service as accounts
from techbridge.accounts import throttle
from techbridge.accounts.models import User
from techbridge.accounts.schemas import Login
from techbridge.accounts.service import credentials as passwords
from techbridge.db import engine_for, unit_of_work
from techbridge.errors import RateLimited
from techbridge.web.auth import check_login

from .conftest import SlowHasher


def test_a_burst_of_guesses_checks_five_passwords_and_then_not_even_the_right_one(
    database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch, clock: list[datetime]
) -> None:
    """23 wrong guesses at once for one address from 23 clients, each with its own
    connection, held inside the password check; then the right password from a 24th. Five
    passwords are checked (the free allowance), the other guesses are refused without one,
    and so is the right password: the burst has used the address up. (Attempts used to be
    counted after the check, so every guess of a burst was checked, and the right one logged
    in.) The clock stands still, so no delay ends during the burst."""
    hasher = SlowHasher()
    monkeypatch.setattr(passwords, "HASHER", hasher)
    factories.user(session, "ana@example.com")
    session.commit()
    engine = engine_for(database_url)
    start = threading.Barrier(23)

    def attempt(number: int, password: str) -> User | None:
        context = accounts.Context(base_url=None, client_ip=f"198.51.100.{number}")
        with unit_of_work(engine) as stored:
            return check_login(stored, Login(email="ana@example.com", password=password), context)

    def guess(number: int) -> str:
        start.wait()
        try:
            assert attempt(number, f"guess number {number}") is None
            return "checked"
        except RateLimited:
            return "refused"

    with ThreadPoolExecutor(max_workers=23) as pool:
        try:
            answers = pool.map(guess, range(23))
            deadline = time.monotonic() + 30
            while hasher.calls["verify"] < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            with pytest.raises(RateLimited):
                attempt(99, PASSWORD)
        finally:
            hasher.release.set()
        assert Counter(answers) == {"checked": 5, "refused": 18}
    assert hasher.calls["verify"] == 5


def test_failed_logins_slow_an_address_down_with_doubling_delays(
    session: Session, fast_hashing: None, clock: list[datetime]
) -> None:
    """Five failures are free; then each further attempt waits twice as long as the last,
    up to 15 minutes."""
    factories.user(session, "ana@example.com")
    context = accounts.Context(base_url=None, client_ip="198.51.100.7")
    guess = Login(email="ana@example.com", password="a guess")
    for _ in range(5):
        assert check_login(session, guess, context) is None
    waits = []
    for _ in range(12):
        with pytest.raises(RateLimited) as refused:
            check_login(session, guess, context)
        waits.append(refused.value.retry_after)
        clock[0] += timedelta(seconds=refused.value.retry_after)
        assert check_login(session, guess, context) is None  # the next guess is checked
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    right = Login(email="ana@example.com", password=PASSWORD)
    clock[0] += timedelta(seconds=900)
    assert check_login(session, right, context) is not None
    assert check_login(session, guess, context) is None  # a success starts over


def test_logins_that_succeed_never_slow_a_shared_client_down(
    session: Session, fast_hashing: None, clock: list[datetime]
) -> None:
    """Each attempt counts against its client before the check; a right password hands it
    back, so an office behind one address can log in all day."""
    factories.user(session, "ana@example.com")
    office = accounts.Context(base_url=None, client_ip="198.51.100.7")
    right = Login(email="ana@example.com", password=PASSWORD)
    for _ in range(throttle.FREE_FAILURES["client"] + 5):
        assert check_login(session, right, office) is not None


@pytest.mark.parametrize(
    ("seen", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),  # IPv6 by its /64
        # IPv4 clients of a dual-stack server (uvicorn on ::), and tunnelled IPv4 clients,
        # are counted by their IPv4 address, not all together in one /64.
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::ffff:8.8.8.8", "8.8.8.8"),
        ("2002:c000:204::1", "192.0.2.4"),  # 6to4
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),  # Teredo
    ],
)
def test_each_client_is_counted_by_its_own_address(seen: str, counted_as: str) -> None:
    assert throttle.client(seen) == throttle.Key("client", counted_as)
