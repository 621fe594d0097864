"""Passwords (argon2id) and the digests of secrets: the one place that hashes, so tests
swap one hasher. A new password ends every login and every link mailed for the old one."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge.accounts.models import LoginSession, User

HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with weaker parameters than the hasher's current ones."""
    return HASHER.check_needs_rehash(password_hash)


@cache
def dummy_hash() -> str:
    """A hash of a password nobody knows, to check unknown addresses against, so that a login
    takes as long whether or not the address has an account. Made on first use: hashing
    takes a good fraction of a second, too long to add to every command's start."""
    return HASHER.hash(secrets.token_urlsafe(16))


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(session: Session, user: User, password: str) -> None:
    """A new password ends every login and every link mailed for the old one."""
    user.password_hash = hash_password(password)
    user.credential_version += 1
    end_all_sessions(session, user)


def end_all_sessions(session: Session, user: User) -> None:
    for found in session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
        session.delete(found)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
