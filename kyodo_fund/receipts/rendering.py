"""Rendering many statement PDFs on all cores while the caller does the database work.

``render_receipt`` is deterministic (``invariant=True``) and needs nothing but the snapshot, so a worker
process yields the very bytes the caller would have drawn. ``Renderer.submit`` takes snapshots and hands back,
for each, something with a ``result()``: its part of a worker's chunk, or, without workers, a deferred
in-process render. Chunks, because each task costs the caller's process ~0.2 ms of queue handling, a tenth of
drawing a statement; in chunks of ``CHUNK`` it is a hundredth of that (bench/bench_render.py).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
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


class _Part:
    """One PDF of a chunk drawn by a worker."""

    __slots__ = ("future", "index")

    def __init__(self, future: Future, index: int) -> None:
        self.future, self.index = future, index

    def result(self) -> bytes:
        return self.future.result()[self.index]


#: Snapshots per worker task: a group of 50 statements makes two tasks, one per worker, and with groups drawn
#: ahead there are always more waiting. 25 rather than 10 saved ~0.03 ms of CPU a statement (queue handling on
#: both sides), measured with two workers drawing 10,000 statements.
CHUNK = 25


def render_many(snapshots: Sequence[ReceiptSnapshot]) -> list[bytes]:
    return [render_receipt(snapshot) for snapshot in snapshots]


def _in_process(snapshots: Sequence[ReceiptSnapshot]) -> list[Pending]:
    return [_InProcess(snapshot) for snapshot in snapshots]


def _in_chunks(pool: ProcessPoolExecutor, snapshots: Sequence[ReceiptSnapshot]) -> list[Pending]:
    parts: list[Pending] = []
    for start in range(0, len(snapshots), CHUNK):
        chunk = list(snapshots[start : start + CHUNK])
        future = pool.submit(render_many, chunk)
        parts.extend(_Part(future, index) for index in range(len(chunk)))
    return parts


@dataclass(frozen=True)
class Renderer:
    submit: Callable[[Sequence[ReceiptSnapshot]], list[Pending]]
    #: True when PDFs are drawn by worker processes, in parallel with the caller.
    parallel: bool


@contextmanager
def pdf_renderer(workers: int) -> Iterator[Renderer]:
    """A ``Renderer``; ``workers`` ≤ 1 renders in this process.

    Workers come from a fork server, not a plain fork: the caller may hold database connections and threads
    (SMTP, schedulers) that a forked copy must not inherit. They run at a lower priority (nice 10): the caller's
    database work is the run's critical path, and where it shares the cores with them it should not wait its
    turn behind drawings it does not need yet; the workers take whatever CPU it leaves.
    """
    if workers <= 1:
        yield Renderer(_in_process, parallel=False)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["kyodo_fund.receipts.pdf"])
    with ProcessPoolExecutor(workers, mp_context=context, initializer=os.nice, initargs=(10,)) as pool:
        yield Renderer(functools.partial(_in_chunks, pool), parallel=True)
