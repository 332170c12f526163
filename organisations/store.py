"""The directory on file: each organisation's versions, the latest being current.

A load is idempotent: an organisation whose details are the same as on file adds
nothing; one whose details changed gets a new version (the old ones stay, so who was the
key adult on a given day can still be answered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from ehx.database import agency_credentials, console_people, organisations
from ehx.organisations.directory import Kind, Organisation
from ehx.schemas.vocabulary import SERVING_KINDS


@dataclass(frozen=True)
class Loaded:
    """What a load did."""

    added: int
    changed: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class OrganisationStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, found: Sequence[Organisation], now: datetime) -> Loaded:
        current = {(o.kind, o.code): o for o in self.current()}
        versions = self._versions()
        added = changed = 0
        rows = []
        for organisation in found:
            key = (organisation.kind, organisation.code)
            before = current.get(key)
            if before == organisation:
                continue
            added += before is None
            changed += before is not None
            rows.append(
                {
                    **asdict(organisation),
                    "kind": organisation.kind.value,
                    "version": versions.get(key, 0) + 1,
                    "loaded_at": now,
                }
            )
        if rows:
            with self._engine.begin() as connection:
                connection.execute(organisations.insert(), rows)
        return Loaded(added, changed, len(found) - added - changed)

    def current(self, kind: Kind | None = None, code: str | None = None) -> list[Organisation]:
        """Each organisation at its latest version, by kind and code (of one kind, or
        the one of that kind and code)."""
        o = organisations.c
        latest = (
            select(o.kind, o.code, func.max(o.version).label("version"))
            .group_by(o.kind, o.code)
            .subquery()
        )
        query = (
            select(o.kind, o.code, o.name, o.key_adult, o.deputy, o.calendar)
            .join(
                latest,
                (o.kind == latest.c.kind)
                & (o.code == latest.c.code)
                & (o.version == latest.c.version),
            )
            .order_by(o.kind, o.code)
        )
        if kind is not None:
            query = query.where(o.kind == kind.value)
        if code is not None:
            query = query.where(o.code == code)
        with self._engine.connect() as connection:
            return [
                Organisation(Kind(r.kind), r.code, r.name, r.key_adult, r.deputy, r.calendar)
                for r in connection.execute(query)
            ]

    def get(self, kind: Kind, code: str) -> Organisation | None:
        found = self.current(kind, code)  # a sign-on asks this: not the whole kind
        return found[0] if found else None

    def unbound(self) -> list[dict[str, str]]:
        """Live tokens and active console accounts of schools, trusts or landlords that
        name no organisation (issued before organisations): they read nothing until
        reissued or re-added with one. Labels and usernames, never a token."""
        kinds = sorted(k.value for k in SERVING_KINDS)
        t, p = agency_credentials.c, console_people.c
        with self._engine.connect() as connection:
            tokens = connection.execute(
                select(t.agency, t.label).where(
                    t.agency.in_(kinds), t.organisation.is_(None), t.revoked_at.is_(None)
                )
            ).all()
            people = connection.execute(
                select(p.view, p.username).where(
                    p.view.in_(kinds), p.organisation.is_(None), p.disabled_at.is_(None)
                )
            ).all()
        return [
            *(
                {
                    "what": "token",
                    "kind": k,
                    "name": label,
                    "fix": f"ehx agencies token {k} --org CODE",
                }
                for k, label in tokens
            ),
            *(
                {
                    "what": "account",
                    "kind": k,
                    "name": name,
                    "fix": f"ehx people add {name} --view {k} --org CODE",
                }
                for k, name in people
            ),
        ]

    def _versions(self) -> dict[tuple[Kind, str], int]:
        o = organisations.c
        with self._engine.connect() as connection:
            return {
                (Kind(kind), code): version
                for kind, code, version in connection.execute(
                    select(o.kind, o.code, func.max(o.version)).group_by(o.kind, o.code)
                )
            }
