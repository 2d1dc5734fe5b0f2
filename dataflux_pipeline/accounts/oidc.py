"""Bearer tokens from an external OpenID Connect issuer (Keycloak, Auth0, Dex...).

Signing keys come from the issuer's JWKS URL and are cached; a token signed with a key
id the cache does not know makes one refetch (the issuer rotated its keys), at most every
few seconds, so a flood of forged key ids cannot turn into a flood of fetches. Roles and
groups come from configurable claims; the person gets a local account (by issuer and
subject) so that what they upload has an owner."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx
import jwt

from dataflux_pipeline.accounts.models import User
from dataflux_pipeline.accounts.principals import ROLES, Principal
from dataflux_pipeline.accounts.tokens import TokenError, decode
from dataflux_pipeline.accounts.users import principal_for, set_groups
from dataflux_pipeline.db import Database

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
REFETCH_EVERY_S = 10.0


def claim(claims: dict, path: str):
    """A dotted claim path (`realm_access.roles`)."""
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclass
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str
    roles_claim: str = "roles"
    groups_claim: str = "groups"
    role_map: dict[str, str] = field(default_factory=dict)
    default_role: str | None = "viewer"
    cache_s: float = 300.0


class OidcVerifier:
    def __init__(self, config: OidcConfig, db: Database) -> None:
        self.config, self.db = config, db
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = -1e18
        self._lock = threading.Lock()

    def _refresh(self, force: bool) -> None:
        with self._lock:
            age = time.monotonic() - self._fetched
            if (not force and age < self.config.cache_s) or (force and age < REFETCH_EVERY_S):
                return
            try:
                body = httpx.get(self.config.jwks_url, timeout=5).raise_for_status().json()
            except (httpx.HTTPError, ValueError) as exc:
                if not self._keys:
                    raise TokenError(
                        f"the identity provider's keys are unavailable: {exc}"
                    ) from exc
                return  # keep serving with the keys we have
            keys = {}
            for raw in body.get("keys", []):
                try:
                    keys[raw["kid"]] = jwt.PyJWK(raw)
                except (KeyError, jwt.PyJWKError):
                    continue
            self._keys, self._fetched = keys, time.monotonic()

    def _key(self, kid: str | None) -> jwt.PyJWK:
        self._refresh(force=False)
        if kid not in self._keys:
            self._refresh(force=True)
        if kid not in self._keys:
            raise TokenError("the token is signed with a key the identity provider does not list")
        return self._keys[kid]

    def verify(self, token: str) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise TokenError("the bearer token is not a JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise TokenError(f"tokens signed with {header.get('alg')!r} are not accepted")
        key = self._key(header.get("kid"))
        return decode(
            token,
            key.key,
            "the token",
            algorithms=ALGORITHMS,
            audience=self.config.audience,
            issuer=self.config.issuer,
            options={"require": ["exp", "iat", "sub"]},
        )

    def role_of(self, claims: dict) -> str | None:
        values = claim(claims, self.config.roles_claim) or []
        values = [values] if isinstance(values, str) else list(values)
        mapped = {self.config.role_map.get(v, v) for v in values}
        for role in ROLES:  # the highest role the claims carry
            if role in mapped:
                return role
        return self.config.default_role

    def principal(self, token: str) -> Principal:
        claims = self.verify(token)
        role = self.role_of(claims)
        if role is None:
            raise TokenError("the token carries no role this deployment accepts")
        user = self._provision(claims, role)
        if user.disabled:
            raise TokenError("this account is disabled")
        groups = claim(claims, self.config.groups_claim) or []
        groups = [groups] if isinstance(groups, str) else [str(g).strip("/") for g in groups]
        set_groups(self.db, user.id, groups)
        return principal_for(self.db, user, token_id=claims.get("jti"))

    def _provision(self, claims: dict, role: str) -> User:
        from sqlalchemy import select

        subject = f"{claims['iss']}|{claims['sub']}"
        name = claims.get("preferred_username") or claims.get("email") or claims["sub"]
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.subject == subject))
            if user is None:
                taken = s.scalar(select(User).where(User.name == name))
                user = User(
                    name=name if taken is None else f"{name}@{claims['iss']}"[:128],
                    role=role,
                    subject=subject,
                    disabled=False,
                )
                s.add(user)
                s.flush()
            elif user.role != role:
                user.role = role
            return user
