from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import NotAuthenticated
from server.tokens import mint_token, read_token

SECRET = b"s" * 32


def test_token_round_trips_the_user_id() -> None:
    assert read_token(SECRET, mint_token(SECRET, 42, 60)) == 42


def test_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(NotAuthenticated, match="invalid"):
        read_token(b"other", mint_token(SECRET, 42, 60))


def test_expired_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    token = mint_token(SECRET, 7, 5)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 10)
    with pytest.raises(NotAuthenticated, match="expired"):
        read_token(SECRET, token)


def test_tampered_token_is_refused() -> None:
    token = mint_token(SECRET, 7, 60)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(NotAuthenticated):
        read_token(SECRET, tampered)


@given(st.text(max_size=300))
def test_garbage_tokens_are_refused_cleanly(text: str) -> None:
    with pytest.raises(NotAuthenticated):
        read_token(SECRET, text)
