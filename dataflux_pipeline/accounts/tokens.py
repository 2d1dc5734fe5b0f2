"""Sessions: short-lived signed access tokens (JWT, HS256) and refresh tokens that are
random, stored hashed, rotated on every use, and revoked as a family when a rotated one
is presented again (it was stolen, or replayed). Signing out revokes both."""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from sqlalchemy import delete, select, update

from dataflux_pipeline.accounts.models import RefreshToken, RevokedAccess, User
from dataflux_pipeline.db import Database

ISSUER = "dataflux"
AUDIENCE = "dataflux"
ALGORITHM = "HS256"


class TokenError(Exception):
    """A token that must be refused; the message tells the client what to do."""


REFUSALS = (  # PyJWT's refusals, most specific first, as a client is told them
    (jwt.ExpiredSignatureError, "{what} has expired{hint}"),
    (jwt.ImmatureSignatureError, "{what} is not valid yet"),
    (jwt.InvalidAudienceError, "{what} is for another audience"),
    (jwt.InvalidIssuerError, "{what} is from another issuer"),
    (jwt.InvalidSignatureError, "{what}'s signature does not verify"),
    (jwt.InvalidTokenError, "{what} is not valid: {exc}"),
)


def decode(token: str, key, what: str, hint: str = "", **checks) -> dict:
    """PyJWT's decode, its refusals as TokenError for `what` ("the access token"); `hint`
    follows the expiry message (what to do about it). Used for our own tokens and for an
    identity provider's."""
    try:
        return jwt.decode(token, key, **checks)
    except jwt.InvalidTokenError as exc:
        message = next(m for cls, m in REFUSALS if isinstance(exc, cls))
        raise TokenError(message.format(what=what, hint=hint, exc=exc)) from exc


def signing_key(secret: str | None, home: Path) -> str:
    """DATAFLUX_JWT_SECRET, or a random key kept (mode 0600) under the home."""
    if secret:
        return secret
    path = home / "jwt.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Issued:
    access_token: str
    refresh_token: str
    expires_in: int


class Sessions:
    def __init__(self, db: Database, key: str, access_ttl_s: int, refresh_ttl_s: int) -> None:
        self.db, self.key = db, key
        self.access_ttl_s, self.refresh_ttl_s = access_ttl_s, refresh_ttl_s

    def access_token(self, user: User, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user.id),
            "name": user.name,
            "role": user.role,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=self.access_ttl_s),
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM)

    def issue(self, user: User, family: str | None = None) -> Issued:
        raw = secrets.token_urlsafe(32)
        token_id = uuid.uuid4().hex
        with self.db.session() as s:
            s.add(
                RefreshToken(
                    id=token_id,
                    user_id=user.id,
                    family=family or token_id,
                    token_hash=_hash(raw),
                    expires_at=datetime.now(UTC) + timedelta(seconds=self.refresh_ttl_s),
                )
            )
        return Issued(self.access_token(user), f"{token_id}.{raw}", self.access_ttl_s)

    def verify_access(self, token: str) -> dict:
        """The claims of a valid access token; TokenError says why one is not."""
        claims = decode(
            token,
            self.key,
            "the access token",
            "; refresh it or sign in",
            algorithms=[ALGORITHM],  # `alg: none` and every other algorithm refused
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "nbf", "sub", "jti"]},
        )
        with self.db.reading() as s:
            if s.get(RevokedAccess, claims["jti"]) is not None:
                raise TokenError("the access token was revoked (signed out)")
        return claims

    def refresh(self, presented: str) -> tuple[Issued, int]:
        """New tokens for a valid refresh token (which is used up); (issued, user id)."""
        token_id, _, raw = presented.partition(".")
        now = datetime.now(UTC)
        with self.db.session() as s:
            row = s.get(RefreshToken, token_id)
            if row is None or not secrets.compare_digest(row.token_hash, _hash(raw)):
                raise TokenError("unknown refresh token")
            if row.revoked_at is not None:
                raise TokenError("the refresh token was revoked; sign in again")
            family, replayed = row.family, row.used_at is not None
            if not replayed:
                if _aware(row.expires_at) < now:
                    raise TokenError("the refresh token has expired; sign in again")
                row.used_at = now
                user = s.get(User, row.user_id)
        if replayed:  # stolen or replayed: end the whole session, in its own transaction
            with self.db.session() as s:
                s.execute(
                    update(RefreshToken).where(RefreshToken.family == family).values(revoked_at=now)
                )
            raise TokenError("the refresh token was already used; the session is revoked")
        if user is None or user.disabled:
            raise TokenError("this account is disabled")
        return self.issue(user, family), user.id

    def revoke(self, presented_refresh: str | None, access_claims: dict | None) -> None:
        """Sign out: the refresh token's session and the access token in hand. The refresh
        token must be whole: its id alone (which is no secret) ends nobody's session."""
        now = datetime.now(UTC)
        with self.db.session() as s:
            if presented_refresh:
                token_id, _, raw = presented_refresh.partition(".")
                row = s.get(RefreshToken, token_id)
                if row is not None and secrets.compare_digest(row.token_hash, _hash(raw)):
                    s.execute(
                        update(RefreshToken)
                        .where(RefreshToken.family == row.family)
                        .values(revoked_at=now)
                    )
            if access_claims:
                expires = datetime.fromtimestamp(access_claims["exp"], UTC)
                s.merge(RevokedAccess(jti=access_claims["jti"], expires_at=expires))
            s.execute(delete(RevokedAccess).where(RevokedAccess.expires_at < now))

    def revoke_user(self, user_id: int) -> None:
        """Every session of a user (disabled, password reset)."""
        with self.db.session() as s:
            s.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )

    def active_families(self, user_id: int) -> int:
        with self.db.reading() as s:
            rows = s.scalars(
                select(RefreshToken.family).where(
                    RefreshToken.user_id == user_id,
                    RefreshToken.revoked_at.is_(None),
                    RefreshToken.used_at.is_(None),
                )
            )
            return len(set(rows))
