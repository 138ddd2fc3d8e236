"""Rendering many statement PDFs on all cores while the caller does the database work.

``render_receipt`` is deterministic (``invariant=True``) and needs nothing but the snapshot, so a worker
process yields the very bytes the caller would have drawn. ``Renderer.submit`` hands back something with a
``result()``: a future of the pool, or, without workers, a deferred in-process render.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from kyodo_fund.receipts.pdf import render_receipt
from kyodo_fund.receipts.snapshot import ReceiptSnapshot


class Pending(Protocol):
    def result(self) -> bytes: ...


class _InProcess:
    """Drawn when asked for: with no worker there is nothing to overlap, so nothing is drawn in vain."""

    __slots__ = ("snapshot",)

    def __init__(self, snapshot: ReceiptSnapshot) -> None:
        self.snapshot = snapshot

    def result(self) -> bytes:
        return render_receipt(self.snapshot)


@dataclass(frozen=True)
class Renderer:
    submit: Callable[[ReceiptSnapshot], Pending]
    #: True when PDFs are drawn by worker processes, in parallel with the caller.
    parallel: bool


@contextmanager
def pdf_renderer(workers: int) -> Iterator[Renderer]:
    """A ``Renderer``; ``workers`` ≤ 1 renders in this process.

    Workers come from a fork server, not a plain fork: the caller may hold database connections and threads
    (SMTP, schedulers) that a forked copy must not inherit.
    """
    if workers <= 1:
        yield Renderer(_InProcess, parallel=False)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["kyodo_fund.receipts.pdf"])
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield Renderer(functools.partial(pool.submit, render_receipt), parallel=True)
