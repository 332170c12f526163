"""The ledger in the database: append (idempotently, chained), page through, checkpoint, query.

Only the audit service appends, from the one-partition ``ehx.audit``; ``seq`` is the
primary key, so a second writer racing the first fails rather than forking the chain.
Queries parse each entry's body (what the hash covers), never the copied columns alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, delete, func, insert, select

from ehx.audit.chain import LedgerEntry, extend
from ehx.audit.checkpoints import Checkpoint
from ehx.database import audit_checkpoints, audit_ledger, audit_subjects
from ehx.database.bulk import execute_many
from ehx.schemas.audit import AuditRecord

PAGE = 5_000


@dataclass(frozen=True)
class Found:
    """A ledger entry as a query returns it: where it is, and what it says."""

    seq: int
    record: AuditRecord

    def as_dict(self) -> dict[str, object]:
        return {"seq": self.seq, **self.record.model_dump(mode="json")}


#: The columns the chain is made of, in ``LedgerEntry``'s order.
_CHAINED = (
    audit_ledger.c.seq,
    audit_ledger.c.body,
    audit_ledger.c.previous_hash,
    audit_ledger.c.hash,
)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(int(row[0]), bytes(row[1]), str(row[2]), str(row[3]))


def _head(connection: Connection) -> LedgerEntry | None:
    """The last entry, read in the caller's transaction (an append chains onto it)."""
    row = connection.execute(select(*_CHAINED).order_by(audit_ledger.c.seq.desc()).limit(1)).first()
    return _entry(row) if row else None


def _utc(moment: datetime) -> datetime:
    """SQLite hands instants back without their zone; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class AuditLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- appending -----------------------------------------------------------------

    def head(self) -> LedgerEntry | None:
        with self._engine.connect() as connection:
            return _head(connection)

    def append(self, records: Sequence[AuditRecord]) -> list[Found]:
        """Chain and store ``records``; those already in the ledger (a replay) are skipped.

        Returns the new entries, with the records they hold.
        """
        if not records:
            return []
        with self._engine.begin() as connection:
            ids = [str(r.audit_id) for r in records]
            known = {
                row[0]
                for row in connection.execute(
                    select(audit_ledger.c.audit_id).where(audit_ledger.c.audit_id.in_(ids))
                )
            }
            seen: set[str] = set()
            fresh = []
            for record in records:
                audit_id = str(record.audit_id)
                if audit_id not in known and audit_id not in seen:
                    seen.add(audit_id)
                    fresh.append(record)
            if not fresh:
                return []
            entries = extend(_head(connection), fresh)
            execute_many(
                connection,
                insert(audit_ledger),
                [
                    {
                        "seq": entry.seq,
                        "audit_id": str(record.audit_id),
                        "action": record.action,
                        "agency": record.agency,
                        "at": record.at,
                        "body": entry.body,
                        "previous_hash": entry.previous_hash,
                        "hash": entry.hash,
                    }
                    for entry, record in zip(entries, fresh, strict=True)
                ],
                "audit_ledger",
            )
            subjects = [
                {"subject_id": subject, "seq": entry.seq}
                for entry, record in zip(entries, fresh, strict=True)
                for subject in sorted(set(record.subject_ids) | {record.family_id or ""} - {""})
            ]
            if subjects:
                execute_many(connection, insert(audit_subjects), subjects, "audit_subjects")
        return [Found(entry.seq, record) for entry, record in zip(entries, fresh, strict=True)]

    def entries(self, after: int = 0, page: int = PAGE) -> Iterator[LedgerEntry]:
        """Every entry after ``after``, in seq order, a page at a time."""
        while True:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(*_CHAINED)
                    .where(audit_ledger.c.seq > after)
                    .order_by(audit_ledger.c.seq)
                    .limit(page)
                ).all()
            if not rows:
                return
            for row in rows:
                yield _entry(row)
            after = int(rows[-1][0])

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(audit_ledger)).scalar_one()
            )

    # --- checkpoints -------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(audit_checkpoints).where(audit_checkpoints.c.seq == checkpoint.seq)
            )
            connection.execute(insert(audit_checkpoints).values(**checkpoint.model_dump()))

    def checkpoints(self) -> list[Checkpoint]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(audit_checkpoints).order_by(audit_checkpoints.c.seq)
            ).mappings()
            return [Checkpoint.model_validate({**row, "at": _utc(row["at"])}) for row in rows]

    # --- queries -----------------------------------------------------------------------

    def find(
        self,
        *,
        actions: Sequence[str] | None = None,
        subject: str | None = None,
        agency: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Found]:
        """Entries matching every filter given, in ledger order (each parsed from its body)."""
        query = select(audit_ledger.c.seq, audit_ledger.c.body).order_by(audit_ledger.c.seq)
        conditions: list[ColumnElement[bool]] = []
        if actions is not None:
            conditions.append(audit_ledger.c.action.in_(list(actions)))
        if agency is not None:
            conditions.append(audit_ledger.c.agency == agency)
        if since is not None:
            conditions.append(audit_ledger.c.at >= since)
        if until is not None:
            conditions.append(audit_ledger.c.at <= until)
        if subject is not None:
            query = query.join(audit_subjects, audit_subjects.c.seq == audit_ledger.c.seq)
            conditions.append(audit_subjects.c.subject_id == subject)
        if conditions:
            query = query.where(and_(*conditions))
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        found = [
            Found(int(seq), AuditRecord.model_validate_json(bytes(body))) for seq, body in rows
        ]
        # The copied columns pick candidates; the body (what the chain covers) decides.
        return [
            f
            for f in found
            if (actions is None or f.record.action in actions)
            and (agency is None or f.record.agency == agency)
            and (
                subject is None or subject in f.record.subject_ids or subject == f.record.family_id
            )
        ]
