"""Gapless document numbers: R-2026-000123, S-2027-000001, and the -R1 suffix of reissue copies."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kyodo_fund.receipts.models import DocType, ReceiptCounter


def take_number(session: Session, issuer_key: str, doc_type: DocType, year: int) -> int:
    """The next number of the counter, inside the caller's transaction.

    The ``UPDATE`` locks the counter row until the caller commits, so concurrent issuers queue behind it and a
    rollback hands the same number to the next one: no gap, no duplicate.
    """
    return take_numbers(session, issuer_key, doc_type, year, 1)[0]


def take_numbers(session: Session, issuer_key: str, doc_type: DocType, year: int, count: int) -> range:
    """The next ``count`` consecutive numbers with one ``UPDATE`` (a batch run numbers a group of documents at
    once); the same lock and rollback rules as ``take_number``, so the block is gapless too."""
    if count < 1:
        raise ValueError("count must be at least 1")
    counter = (
        update(ReceiptCounter)
        .where(
            ReceiptCounter.issuer_key == issuer_key,
            ReceiptCounter.doc_type == doc_type,
            ReceiptCounter.year == year,
        )
        .values(value=ReceiptCounter.value + count)
        .returning(ReceiptCounter.value)
        .execution_options(synchronize_session=False)
    )
    value = session.execute(counter).scalar_one_or_none()
    if value is None:
        # The year's first number: create the row (a concurrent creator makes this a no-op), then count.
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(
            insert(ReceiptCounter)
            .values(issuer_key=issuer_key, doc_type=doc_type, year=year, value=0)
            .on_conflict_do_nothing()
        )
        value = session.execute(counter).scalar_one()
    return range(value - count + 1, value + 1)


def display_number(doc_type: DocType, year: int, number: int, reissue_seq: int = 0) -> str:
    base = f"{doc_type.value}-{year}-{number:06d}"
    return f"{base}-R{reissue_seq}" if reissue_seq else base
