"""Accounts, keys and throttling on the app database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from dataflux_pipeline.accounts import throttle
from dataflux_pipeline.accounts.models import ApiKey
from dataflux_pipeline.accounts.users import (
    AccountError,
    LastAdmin,
    add_user,
    authenticate,
    create_key,
    get_user,
    principal_for,
    revoke_key,
    set_groups,
    update_user,
    verify_key,
)


def test_passwords_are_argon2id_and_checked(db) -> None:
    user = add_user(db, "ana", "editor", "correct horse battery")
    assert user.password_hash.startswith("$argon2id$")
    assert authenticate(db, "ana", "correct horse battery").id == user.id
    assert authenticate(db, "ana", "wrong horse battery") is None
    assert authenticate(db, "nobody", "correct horse battery") is None
    with pytest.raises(AccountError, match="at least 10"):
        add_user(db, "bo", "viewer", "short")
    with pytest.raises(AccountError, match="exists"):
        add_user(db, "ana", "viewer", "another long password")
    update_user(db, "ana", disabled=True)
    assert authenticate(db, "ana", "correct horse battery") is None


def test_keys_are_shown_once_stored_hashed_and_never_wider_than_their_user(db) -> None:
    viewer = add_user(db, "vi", "viewer", "correct horse battery")
    with pytest.raises(AccountError, match="cannot hold"):
        create_key(db, viewer, "too much", ["assets:write"])
    key = create_key(db, viewer, "laptop", [])
    assert key.secret.startswith("dfx_") and key.scopes == ["assets:read"]
    with db.reading() as s:
        stored = s.get(ApiKey, key.id)
    assert key.secret not in (stored.key_hash, stored.prefix)
    found, user = verify_key(db, key.secret)
    assert user.name == "vi" and found.id == key.id
    assert verify_key(db, key.secret[:-1] + "x") is None
    assert principal_for(db, user, frozenset(found.scopes)).scopes == {"assets:read"}
    assert revoke_key(db, user.id, key.id)
    assert verify_key(db, key.secret) is None


def test_group_membership_reaches_the_principal(db) -> None:
    user = add_user(db, "ana", "viewer", "correct horse battery")
    groups = set_groups(db, user.id, ["partners", "press"])
    principal = principal_for(db, user)
    assert principal.groups == groups and len(groups) == 2
    assert {f"g:{g}" for g in groups} | {f"u:{user.id}", "public"} == principal.readers
    set_groups(db, user.id, ["press"])
    assert len(principal_for(db, user).groups) == 1


def test_guessing_slows_down_per_account_and_address_without_locking_forever(db) -> None:
    keys = ["user:ana", "addr:10.0.0.9"]
    for _ in range(throttle.FREE_ATTEMPTS):
        assert throttle.wait_s(db, keys) == 0
        throttle.failed(db, keys)
    assert throttle.wait_s(db, keys) == 0  # the fifth failure itself is free
    throttle.failed(db, keys)
    first = throttle.wait_s(db, keys)
    throttle.failed(db, keys)
    second = throttle.wait_s(db, keys)
    assert 0 < first < second <= throttle.MAX_WAIT.total_seconds()
    assert throttle.wait_s(db, ["user:bo", "addr:10.0.0.10"]) == 0  # others are not slowed
    assert throttle.wait_s(db, ["user:ana", "addr:10.0.0.10"]) > 0  # the account is
    throttle.succeeded(db, "user:ana")
    assert throttle.wait_s(db, ["user:ana", "addr:10.0.0.11"]) == 0


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(db) -> None:
    add_user(db, "root", "admin", "correct horse battery")
    add_user(db, "old", "admin", "correct horse battery")
    update_user(db, "old", disabled=True)  # another admin remains: allowed
    for change in ({"role": "editor"}, {"disabled": True}):
        with pytest.raises(LastAdmin, match="last admin"):
            update_user(db, "root", **change)
    assert get_user(db, "root").role == "admin" and not get_user(db, "root").disabled
    update_user(db, "old", disabled=False)
    update_user(db, "root", role="editor")  # now there is another
    assert get_user(db, "root").role == "editor"
