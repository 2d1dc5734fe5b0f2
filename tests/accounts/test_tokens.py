"""Sign-in tokens refused for every reason a real client meets, each with a message that
says what to do; refresh tokens rotate, and a replayed one ends the session."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from dataflux_pipeline.accounts.tokens import ALGORITHM, AUDIENCE, ISSUER, Sessions, TokenError
from dataflux_pipeline.accounts.users import add_user, update_user

KEY = "a signing key for the tests, long enough for HS256"


@pytest.fixture
def sessions(db) -> Sessions:
    return Sessions(db, KEY, access_ttl_s=60, refresh_ttl_s=3600)


def forged(**overrides) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "1",
        "jti": "j1",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    } | overrides
    key = claims.pop("key", KEY)
    return jwt.encode(claims, key, algorithm=claims.pop("alg", ALGORITHM))


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (forged(exp=datetime.now(UTC) - timedelta(seconds=5)), "expired"),
        (forged(nbf=datetime.now(UTC) + timedelta(hours=1)), "not valid yet"),
        (forged(key="another key entirely, also long enough"), "signature"),
        (forged(iss="someone-else"), "another issuer"),
        (forged(aud="another-app"), "another audience"),
        (jwt.encode({"iss": ISSUER, "sub": "1"}, None, algorithm="none"), "not valid"),
        (forged(alg="HS512"), "not valid"),
        ("not.a.token", "not valid"),
    ],
)
def test_bad_access_tokens_are_refused_with_a_reason(sessions, token, message) -> None:
    with pytest.raises(TokenError, match=message):
        sessions.verify_access(token)


def test_refresh_rotates_and_a_replay_revokes_the_session(db, sessions) -> None:
    user = add_user(db, "ana", "editor", "correct horse battery")
    first = sessions.issue(user)
    assert sessions.verify_access(first.access_token)["name"] == "ana"
    second, user_id = sessions.refresh(first.refresh_token)
    assert user_id == user.id and second.refresh_token != first.refresh_token
    with pytest.raises(TokenError, match="already used"):
        sessions.refresh(first.refresh_token)  # a thief replays the old one
    with pytest.raises(TokenError, match="revoked"):
        sessions.refresh(second.refresh_token)  # so the real client's is dead too


def test_sign_out_revokes_both_tokens(db, sessions) -> None:
    user = add_user(db, "ana", "editor", "correct horse battery")
    issued = sessions.issue(user)
    claims = sessions.verify_access(issued.access_token)
    sessions.revoke(issued.refresh_token, claims)
    with pytest.raises(TokenError, match="revoked"):
        sessions.verify_access(issued.access_token)
    with pytest.raises(TokenError, match="revoked"):
        sessions.refresh(issued.refresh_token)


def test_a_refresh_tokens_id_alone_signs_nobody_out(db, sessions) -> None:
    user = add_user(db, "ana", "editor", "correct horse battery")
    issued = sessions.issue(user)
    token_id = issued.refresh_token.partition(".")[0]
    sessions.revoke(f"{token_id}.guessed", None)
    sessions.revoke(token_id, None)
    renewed, user_id = sessions.refresh(issued.refresh_token)  # the session lives on
    assert user_id == user.id and renewed.refresh_token != issued.refresh_token


def test_a_disabled_account_cannot_refresh(db, sessions) -> None:
    user = add_user(db, "ana", "editor", "correct horse battery")
    issued = sessions.issue(user)
    update_user(db, "ana", disabled=True)
    with pytest.raises(TokenError, match="disabled"):
        sessions.refresh(issued.refresh_token)


def test_an_expired_refresh_token_is_refused(db) -> None:
    quick = Sessions(db, KEY, access_ttl_s=60, refresh_ttl_s=1)
    user = add_user(db, "ana", "editor", "correct horse battery")
    issued = quick.issue(user)
    time.sleep(1.2)
    with pytest.raises(TokenError, match="expired"):
        quick.refresh(issued.refresh_token)
