"""Accounts, groups and API keys. A key belongs to a user, carries scopes no wider than
its user's, is shown once (`dfx_<prefix>_<secret>`) and kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from dataflux_pipeline.accounts.models import ApiKey, Group, Membership, User
from dataflux_pipeline.accounts.passwords import hash_password, verify
from dataflux_pipeline.accounts.principals import (
    ROLE_SCOPES,
    ROLES,
    Principal,
    normalize_scopes,
)
from dataflux_pipeline.db import Database

KEY_PREFIX = "dfx_"


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


class LastAdmin(AccountError):
    """The change would leave no enabled admin: nobody could manage users any more."""


@dataclass(frozen=True)
class NewKey:
    id: int
    secret: str  # shown once
    scopes: list[str]


def has_accounts(db: Database) -> bool:
    with db.reading() as s:
        return bool(s.scalar(select(func.count()).select_from(User)))


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def add_user(db: Database, name: str, role: str, password: str | None) -> User:
    name = name.strip()
    if not name or len(name) > 128:
        raise AccountError("a user name has 1 to 128 characters")
    with db.session() as s:
        if s.scalar(select(User).where(User.name == name)) is not None:
            raise AccountError(f"user {name!r} exists")
        try:
            hashed = hash_password(password) if password is not None else None
        except ValueError as exc:
            raise AccountError(str(exc)) from exc
        user = User(name=name, role=_check_role(role), password_hash=hashed, disabled=False)
        s.add(user)
        s.flush()
        return user


def get_user(db: Database, name: str) -> User | None:
    with db.reading() as s:
        return s.scalar(select(User).where(User.name == name))


def user_by_id(db: Database, user_id: int) -> User | None:
    with db.reading() as s:
        return s.get(User, user_id)


def list_users(db: Database) -> list[User]:
    with db.reading() as s:
        return list(s.scalars(select(User).order_by(User.name)))


def update_user(
    db: Database,
    name: str,
    role: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> User:
    with db.session() as s:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise AccountError(f"no user {name!r}")
        was_admin = user.role == "admin" and not user.disabled
        if role is not None:
            user.role = _check_role(role)
        if disabled is not None:
            user.disabled = disabled
        if was_admin and (user.role != "admin" or user.disabled):
            others = s.scalar(
                select(func.count())
                .select_from(User)
                .where(User.role == "admin", User.disabled.is_(False), User.id != user.id)
            )
            if not others:
                raise LastAdmin(f"{name!r} is the last admin: make another admin first")
        if password is not None:
            try:
                user.password_hash = hash_password(password)
            except ValueError as exc:
                raise AccountError(str(exc)) from exc
        return user


def authenticate(db: Database, name: str, password: str) -> User | None:
    """The user, if the password is right and the account enabled (constant cost)."""
    user = get_user(db, name)
    ok = verify(user.password_hash if user else None, password)
    return user if ok and user is not None and not user.disabled else None


def group_ids(db: Database, user_id: int) -> frozenset[int]:
    with db.reading() as s:
        rows = s.scalars(select(Membership.group_id).where(Membership.user_id == user_id))
        return frozenset(rows)


def ensure_group(db: Database, name: str) -> Group:
    with db.session() as s:
        group = s.scalar(select(Group).where(Group.name == name))
        if group is None:
            group = Group(name=name)
            s.add(group)
            s.flush()
        return group


def set_groups(db: Database, user_id: int, names: list[str]) -> frozenset[int]:
    """Make a user's memberships exactly these groups (created when new)."""
    wanted = {ensure_group(db, n).id for n in names}
    with db.session() as s:
        have = set(s.scalars(select(Membership.group_id).where(Membership.user_id == user_id)))
        for gid in have - wanted:
            s.delete(s.get(Membership, (user_id, gid)))
        for gid in wanted - have:
            s.add(Membership(user_id=user_id, group_id=gid))
    return frozenset(wanted)


def principal_for(db: Database, user: User, scopes=None, token_id=None) -> Principal:
    """A signed-in user, or one of their keys (whose scopes are within the user's)."""
    allowed = ROLE_SCOPES[user.role]
    return Principal(
        kind="user",
        name=user.name,
        role=user.role,
        scopes=allowed & scopes if scopes is not None else allowed,
        user_id=user.id,
        groups=group_ids(db, user.id),
        token_id=token_id,
    )


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(db: Database, user: User, name: str, scopes: list[str]) -> NewKey:
    wanted = normalize_scopes(scopes) if scopes else ROLE_SCOPES[user.role]
    wider = wanted - ROLE_SCOPES[user.role]
    if wider:
        raise AccountError(f"a {user.role} cannot hold {', '.join(sorted(wider))}")
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with db.session() as s:
        key = ApiKey(
            user_id=user.id,
            name=name[:128],
            prefix=prefix,
            key_hash=_hash(secret),
            scopes=sorted(wanted),
        )
        s.add(key)
        s.flush()
        return NewKey(key.id, secret, sorted(wanted))


def verify_key(db: Database, presented: str) -> tuple[ApiKey, User] | None:
    """The key and its user, if the key is live and the user enabled."""
    if not presented.startswith(KEY_PREFIX) or presented.count("_") < 2:
        return None
    prefix = presented[len(KEY_PREFIX) :].split("_", 1)[0]
    with db.session() as s:
        key = s.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if key is None or not secrets.compare_digest(key.key_hash, _hash(presented)):
            return None
        user = s.get(User, key.user_id)
        if key.revoked_at is not None or user is None or user.disabled:
            return None
        key.last_used_at = datetime.now(UTC)
        return key, user


def list_keys(db: Database, user_id: int) -> list[ApiKey]:
    with db.reading() as s:
        return list(s.scalars(select(ApiKey).where(ApiKey.user_id == user_id)))


def revoke_key(db: Database, user_id: int, key_id: int) -> bool:
    with db.session() as s:
        key = s.get(ApiKey, key_id)
        if key is None or key.user_id != user_id or key.revoked_at is not None:
            return False
        key.revoked_at = datetime.now(UTC)
        return True


def owner_labels(db: Database, owner: str | None, group: str | None) -> list[str]:
    """Reader labels of a source's configured owner and group (a name with no account
    yet owns nothing until it exists; the group is created)."""
    labels = []
    if owner:
        user = get_user(db, owner)
        if user is not None:
            labels.append(f"u:{user.id}")
    if group:
        labels.append(f"g:{ensure_group(db, group).id}")
    return labels
