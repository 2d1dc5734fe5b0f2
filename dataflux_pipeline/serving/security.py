"""Who is asking, decided once per request for the JSON API, the web pages and the MCP
endpoint alike: a user's API key, a deployment key, a session token we signed, or a
token from the configured OpenID Connect issuer; with none of those configured and no
accounts created, open mode (one person on a laptop)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import jwt

from dataflux_pipeline.accounts.oidc import OidcConfig, OidcVerifier
from dataflux_pipeline.accounts.principals import OPEN, Principal, normalize_scopes
from dataflux_pipeline.accounts.tokens import ISSUER, Sessions, TokenError, signing_key
from dataflux_pipeline.accounts.users import (
    KEY_PREFIX,
    has_accounts,
    principal_for,
    user_by_id,
    verify_key,
)
from dataflux_pipeline.db import Database
from dataflux_pipeline.settings import Settings

log = logging.getLogger(__name__)
SESSION_COOKIE = "dataflux_session"
CSRF_COOKIE = "dataflux_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_CHECK_S = 2.0


class Unauthorized(Exception):
    """No usable credentials; the message tells the client what to send."""


class Authenticator:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        key = signing_key(settings.jwt_secret, settings.home)
        self.sessions = Sessions(db, key, settings.access_token_ttl_s, settings.refresh_token_ttl_s)
        self.oidc = None
        if settings.oidc_issuer and settings.oidc_jwks_url:
            config = OidcConfig(
                issuer=settings.oidc_issuer,
                audience=settings.oidc_audience or "",
                jwks_url=settings.oidc_jwks_url,
                roles_claim=settings.oidc_roles_claim,
                groups_claim=settings.oidc_groups_claim,
                role_map=settings.oidc_role_map,
                default_role=settings.oidc_default_role or None,
            )
            self.oidc = OidcVerifier(config, db)
        self._open: tuple[float, bool] = (-1e18, False)

    def open_mode(self) -> bool:
        """No deployment keys, no identity provider, no accounts: anyone who reaches the
        port is the laptop's owner."""
        stamp, value = self._open
        if time.monotonic() - stamp < OPEN_CHECK_S:
            return value
        value = not self.settings.api_keys and self.oidc is None and not has_accounts(self.db)
        self._open = (time.monotonic(), value)
        return value

    def accounts_changed(self) -> None:
        self._open = (-1e18, False)

    def authenticate(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str] | None = None,
        unsafe: bool = False,
    ) -> Principal:
        """`unsafe`: the request may change something (not GET, HEAD or OPTIONS). A browser
        sends cookies whichever page made the request, so a cookie session must then prove
        the page is ours with the CSRF token; headers a page cannot set (a bearer token, an
        API key) need no such proof."""
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        key = headers.get("x-api-key") or (bearer if bearer and bearer.count(".") != 2 else None)
        if key:
            return self._key(key)
        cookies = cookies or {}
        token = bearer or cookies.get(SESSION_COOKIE)
        if token:
            principal = self._token(token)
            if bearer is None and unsafe:
                self.check_csrf(headers, cookies, principal.user_id)
            return principal
        if self.open_mode():
            if rebound(headers, self.settings.api_url):
                raise Unauthorized(
                    "in open mode a browser reaches this service at localhost or an IP "
                    "address only (against DNS rebinding); add accounts to serve a name"
                )
            if unsafe and cross_site(headers):
                raise Unauthorized("a page of another site may not change this catalog")
            return OPEN
        raise Unauthorized(
            "sign in (POST /auth/token) and send the token as `Authorization: Bearer`, "
            "or send an API key as X-API-Key"
        )

    def _key(self, presented: str) -> Principal:
        if presented.startswith(KEY_PREFIX):
            found = verify_key(self.db, presented)
            if found is None:
                raise Unauthorized("unknown or revoked API key")
            key, user = found
            return principal_for(self.db, user, frozenset(key.scopes), token_id=f"key:{key.id}")
        for known, scopes in self.settings.api_keys.items():
            if hmac.compare_digest(known.encode(), presented.encode()):
                name = f"key-{hmac.new(b'dataflux', known.encode(), 'sha256').hexdigest()[:8]}"
                return Principal(
                    kind="service", name=name, role="admin", scopes=normalize_scopes(scopes)
                )
        raise Unauthorized("unknown API key")

    def _token(self, token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("the bearer token is not a JWT or an API key") from exc
        try:
            if issuer == ISSUER:
                claims = self.sessions.verify_access(token)
                user = user_by_id(self.db, int(claims["sub"]))
                if user is None or user.disabled:
                    raise TokenError("this account is disabled")
                return principal_for(self.db, user, token_id=claims["jti"])
            if self.oidc is not None and issuer == self.oidc.config.issuer:
                return self.oidc.principal(token)
        except TokenError as exc:
            raise Unauthorized(str(exc)) from exc
        raise Unauthorized("the token is from an issuer this deployment does not trust")

    def csrf_token(self, user_id: int | None) -> str:
        """A random nonce signed together with the user, so a token planted in the browser
        by someone else (a cookie set by a sibling site) does not pass for this user's."""
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._csrf_mac(user_id, nonce)}"

    def _csrf_mac(self, user_id: int | None, nonce: str) -> str:
        message = f"csrf:{user_id}:{nonce}".encode()
        return hmac.new(self.sessions.key.encode(), message, hashlib.sha256).hexdigest()[:32]

    def check_csrf(
        self, headers: Mapping[str, str], cookies: Mapping[str, str], user_id: int | None
    ) -> None:
        """Double submit: the header must repeat the CSRF cookie (a page of another site can
        neither read the cookie nor set the header), and the token must be this user's."""
        sent, kept = headers.get(CSRF_HEADER, ""), cookies.get(CSRF_COOKIE, "")
        nonce, _, mac = kept.partition(".")
        if not (
            sent
            and hmac.compare_digest(sent.encode(), kept.encode())
            and hmac.compare_digest(mac.encode(), self._csrf_mac(user_id, nonce).encode())
        ):
            raise Unauthorized(
                "a cookie session must send the X-CSRF-Token header (the dataflux_csrf "
                "cookie's value) with every POST, PUT, PATCH and DELETE"
            )

    def refusal(self, headers: Mapping[str, str]) -> str | None:
        """Why a request with these headers would be refused (for the body guard, which
        sees only requests that may change something)."""
        try:
            self.authenticate(headers, parse_cookies(headers.get("cookie", "")), unsafe=True)
        except Unauthorized as exc:
            return str(exc)
        return None


def parse_cookies(header: str) -> dict[str, str]:
    cookies = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            cookies[name] = value
    return cookies


def rebound(headers: Mapping[str, str], api_url: str) -> bool:
    """A browser page that reached this service under a host name not its own: DNS
    rebinding (a name of the attacker's pointed at 127.0.0.1), whose requests look
    same-origin. Addresses and localhost cannot be rebound; programs send no Origin or
    Sec-Fetch-Site and are not browsers."""
    if "sec-fetch-site" not in headers and "origin" not in headers:
        return False
    host = urlsplit(f"//{headers.get('host', '')}").hostname or ""
    if host in ("localhost", urlsplit(api_url).hostname):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def cross_site(headers: Mapping[str, str]) -> bool:
    """A browser request made by a page of another origin (browsers say so in
    Sec-Fetch-Site; Origin for older ones). Open mode has no session to steal, but a page
    elsewhere could still upload or delete through the user's browser."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    return origin.split("://", 1)[-1] != headers.get("host", "")
