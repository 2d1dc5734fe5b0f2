"""`dataflux users ...` for the first administrator and for scripts, and
`dataflux feedback export`."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from dataflux_pipeline.accounts import audit
from dataflux_pipeline.accounts.users import AccountError, add_user, list_users, update_user
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.settings import Settings


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def users(settings: Settings, action: str, name: str | None, role: str, stdin: bool) -> int:
    db = Catalog.open(settings.database).db
    actor = f"cli:{getpass.getuser()}"
    try:
        if action == "list":
            print(f"{'name':<24} {'role':<8} {'state':<9} source")
            for u in list_users(db):
                state = "disabled" if u.disabled else "active"
                print(f"{u.name:<24} {u.role:<8} {state:<9} {'oidc' if u.subject else 'local'}")
            return 0
        if name is None:
            raise AccountError("give a user name")
        if action == "add":
            add_user(db, name, role, _password(stdin))
            audit.record(db, actor, "user_created", name, role=role)
            print(f"added {name} ({role})")
        elif action == "disable":
            update_user(db, name, disabled=True)
            audit.record(db, actor, "user_changed", name, disabled=True)
            print(f"disabled {name}; their sessions end when their tokens expire")
        elif action == "enable":
            update_user(db, name, disabled=False)
            audit.record(db, actor, "user_changed", name, disabled=False)
        elif action == "reset-password":
            update_user(db, name, password=_password(stdin))
            audit.record(db, actor, "user_changed", name, password="reset")
            print(f"password of {name} reset")
        elif action == "set-role":
            update_user(db, name, role=role)
            audit.record(db, actor, "user_changed", name, role=role)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def export_feedback(settings: Settings, out: str) -> int:
    from sqlalchemy import select

    from dataflux_pipeline.accounts.feedback import export
    from dataflux_pipeline.catalog.models import Asset

    live = Catalog.open(settings.database)
    with live.reading() as s:
        names = dict(s.execute(select(Asset.asset_id, Asset.file_name)).all())
    n = export(live.db, names, Path(out))
    print(f"{n} judged queries written to {out} (the format of tests/eval/queries.json)")
    return 0
