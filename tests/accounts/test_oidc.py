"""Bearer tokens from an external OpenID Connect issuer, verified against a real JWKS
endpoint the test serves on loopback with keys it generates; the issuer rotates keys."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from dataflux_pipeline.serving.security import Authenticator, Unauthorized
from dataflux_pipeline.settings import Settings

ISSUER = "https://id.example.test/realms/media"
AUDIENCE = "dataflux"


class Issuer:
    """Keys, and the JWKS document the endpoint serves (swappable: rotation)."""

    def __init__(self) -> None:
        self.keys = {
            f"k{n}": rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in (1, 2)
        }
        self.published = ["k1"]
        self.fetches = 0

    def jwks(self) -> dict:
        out = []
        for kid in self.published:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            out.append(jwk | {"kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": out}

    def token(self, kid="k1", **claims) -> str:
        now = datetime.now(UTC)
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-123",
            "preferred_username": "rosa",
            "iat": now,
            "exp": now + timedelta(minutes=5),
            "realm_access": {"roles": ["media-editors"]},
            "groups": ["/partners/acme"],
        } | claims
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def issuer():
    state = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.fetches += 1
            body = json.dumps(state.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}/protocol/openid-connect/certs"
    yield state
    server.shutdown()


@pytest.fixture
def auth(issuer, tmp_path) -> Authenticator:
    from dataflux_pipeline.catalog import Catalog

    settings = Settings(
        home=tmp_path / "data",
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=issuer.url,
        oidc_roles_claim="realm_access.roles",
        oidc_role_map={"media-editors": "editor", "media-admins": "admin"},
    )
    return Authenticator(settings, Catalog.open(settings.database).db)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_a_valid_token_maps_roles_and_groups_and_provisions_the_person(auth, issuer) -> None:
    principal = auth.authenticate(bearer(issuer.token()))
    assert principal.kind == "user" and principal.name == "rosa" and principal.role == "editor"
    assert principal.can("assets:write") and not principal.can("users:manage")
    assert len(principal.groups) == 1  # "/partners/acme" became a group
    again = auth.authenticate(bearer(issuer.token(realm_access={"roles": ["media-admins"]})))
    assert again.user_id == principal.user_id and again.role == "admin"
    assert not auth.open_mode()


def test_keys_are_cached_and_a_rotation_is_followed(auth, issuer) -> None:
    for _ in range(3):
        auth.authenticate(bearer(issuer.token()))
    assert issuer.fetches == 1  # cached
    issuer.published = ["k2"]  # the issuer rotates
    time.sleep(0.01)
    auth.oidc._fetched -= 60  # past the refetch pause for an unknown key id
    assert auth.authenticate(bearer(issuer.token(kid="k2"))).name == "rosa"
    assert issuer.fetches == 2
    with pytest.raises(Unauthorized, match="does not list"):
        auth.authenticate(bearer(issuer.token(kid="k1", sub="other")))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"aud": "someone-else"}, "another audience"),
        ({"exp": datetime.now(UTC) - timedelta(minutes=1)}, "expired"),
        ({"nbf": datetime.now(UTC) + timedelta(hours=1)}, "not valid yet"),
        ({"iss": "https://evil.example"}, "does not trust"),
    ],
)
def test_refused_tokens_say_why(auth, issuer, claims, message) -> None:
    with pytest.raises(Unauthorized, match=message):
        auth.authenticate(bearer(issuer.token(**claims)))


def test_a_forged_signature_and_alg_none_are_refused(auth, issuer) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "x",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    forged = jwt.encode(body, stranger, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(Unauthorized, match="signature does not verify"):
        auth.authenticate(bearer(forged))
    unsigned = jwt.encode(body, None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(Unauthorized, match="not accepted"):
        auth.authenticate(bearer(unsigned))


def test_a_disabled_provisioned_user_is_refused(auth, issuer) -> None:
    from dataflux_pipeline.accounts.users import update_user

    auth.authenticate(bearer(issuer.token()))
    update_user(auth.db, "rosa", disabled=True)
    with pytest.raises(Unauthorized, match="disabled"):
        auth.authenticate(bearer(issuer.token()))
