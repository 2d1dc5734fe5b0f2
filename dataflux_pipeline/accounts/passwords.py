"""Passwords hashed with argon2id (RFC 9106's memory-hard KDF); a sign-in for a name that
does not exist costs the same as one that does, so timing tells nothing."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, 64 MiB, 3 passes: the library's current defaults


@lru_cache(maxsize=1)
def _dummy() -> str:
    return hasher().hash("a password nobody has")


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    return hasher().hash(password)


def verify(stored: str | None, password: str) -> bool:
    try:
        return hasher().verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return hasher().check_needs_rehash(stored)
