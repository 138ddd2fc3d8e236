"""Rendering many statement PDFs on all cores while the caller does the database work.

``render_receipt`` is deterministic (``invariant=True``) and needs nothing but the snapshot, so a worker
process yields the very bytes the caller would have drawn; ``map`` keeps the order of the snapshots.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from kyodo_fund.receipts.pdf import render_receipt
from kyodo_fund.receipts.snapshot import ReceiptSnapshot

Renderer = Callable[[Iterable[ReceiptSnapshot]], Iterator[bytes]]


def _in_process(snapshots: Iterable[ReceiptSnapshot]) -> Iterator[bytes]:
    return map(render_receipt, snapshots)


@contextmanager
def pdf_renderer(workers: int) -> Iterator[Renderer]:
    """A function from snapshots to their PDFs, lazily and in order; ``workers`` ≤ 1 renders in this process.

    Workers come from a fork server, not a plain fork: the caller may hold database connections and threads
    (SMTP, schedulers) that a forked copy must not inherit.
    """
    if workers <= 1:
        yield _in_process
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["kyodo_fund.receipts.pdf"])
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield lambda snapshots: pool.map(render_receipt, snapshots)
