"""Password hashing with Argon2id (argon2-cffi)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "hash_password_async", "verify_password", "verify_password_async"]

_hasher = PasswordHasher()
# Verifying against this when the account does not exist keeps login time the same,
# so response time does not tell which emails have accounts.
_DUMMY = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (an empty ``stored`` never matches)."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and bool(stored)
    except (VerificationError, InvalidHashError):
        return False


# Argon2 is meant to be slow (~0.1-0.5 s here): on the event loop it would freeze every socket and
# stream of the process, so the server always hashes in a worker thread (argon2-cffi releases the
# GIL). Each hash also takes 64 MiB: a pool of one thread per core bounds both the CPU and the
# memory a burst of sign-ins can take (asyncio's default pool would run cores + 4 at once).
_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` in a worker thread."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, hash_password, password)


async def verify_password_async(stored: str, password: str) -> bool:
    """:func:`verify_password` in a worker thread."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, verify_password, stored, password)
