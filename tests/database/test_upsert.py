"""Insert-or-ignore says how many rows were new: what intake tells a replay by."""

from __future__ import annotations

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select

from ehx.database.upsert import insert_ignoring_duplicates


def test_only_new_rows_are_counted_and_a_duplicate_keeps_the_first_value(engine: Engine) -> None:
    metadata = MetaData()
    table = Table(
        "ignoring_test",
        metadata,
        Column("id", String(8), primary_key=True),
        Column("n", Integer),
    )
    metadata.create_all(engine)
    with engine.begin() as connection:
        first = insert_ignoring_duplicates(
            connection, table, [{"id": k, "n": 1} for k in ("a", "b", "c")]
        )
    with engine.begin() as connection:
        # Two already there, one new, and the new one twice in the same batch.
        again = insert_ignoring_duplicates(
            connection, table, [{"id": k, "n": 2} for k in ("b", "c", "d", "d")]
        )
    with engine.connect() as connection:
        held = dict(connection.execute(select(table.c.id, table.c.n)).all())
    assert (first, again) == (3, 1)
    assert held == {"a": 1, "b": 1, "c": 1, "d": 2}
    metadata.drop_all(engine)
