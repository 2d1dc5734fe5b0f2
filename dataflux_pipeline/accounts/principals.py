"""Who is asking, and what that allows: roles map to scopes, and every read is filtered
by the reader labels a principal holds (`public`, `u:<id>`, `g:<id>`)."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("admin", "editor", "viewer")
SCOPES = (
    "assets:read",
    "assets:write",
    "collections:manage",
    "users:manage",
    "audit:read",
    "metrics:read",
)
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"assets:read"}),
    "editor": frozenset({"assets:read", "assets:write", "collections:manage"}),
    "admin": frozenset(SCOPES),
}
# the names the first version of the API used for its shared keys
LEGACY_SCOPES = {"search": "assets:read", "upload": "assets:write", "metrics": "metrics:read"}


def normalize_scopes(scopes: list[str] | tuple[str, ...]) -> frozenset[str]:
    out = set()
    for scope in scopes:
        scope = LEGACY_SCOPES.get(scope, scope)
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}; scopes are {', '.join(SCOPES)}")
        out.add(scope)
    return frozenset(out)


def user_label(user_id: int) -> str:
    return f"u:{user_id}"


def group_label(group_id: int) -> str:
    return f"g:{group_id}"


@dataclass(frozen=True)
class Principal:
    """`kind`: user (a person, signed in or by one of their keys), service (a deployment
    key from DATAFLUX_API_KEYS), open (no accounts configured: a laptop)."""

    kind: str
    name: str
    role: str
    scopes: frozenset[str]
    user_id: int | None = None
    groups: frozenset[int] = field(default_factory=frozenset)
    token_id: str | None = None

    @property
    def unrestricted(self) -> bool:
        """Sees every content: administrators, deployment keys, open mode."""
        return self.kind in ("open", "service") or self.role == "admin"

    @property
    def readers(self) -> frozenset[str]:
        labels = {"public"}
        if self.user_id is not None:
            labels.add(user_label(self.user_id))
        labels |= {group_label(g) for g in self.groups}
        return frozenset(labels)

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


OPEN = Principal(kind="open", name="local", role="admin", scopes=frozenset(SCOPES))
