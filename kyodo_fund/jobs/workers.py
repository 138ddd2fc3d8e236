"""Worker processes holding their own read-only copy of the app, for the read-only part of a batch job.

A batch job's checks (the annual statements' preflight) run in one process and leave the other cores idle. Each
worker builds the app from the caller's settings with ``DATABASE_READ_ONLY`` on, so it opens its own connections,
cannot write, and on SQLite reads beside the caller instead of queueing for the write lock. Workers come from a
fork server (like the PDF workers): the caller may hold connections and threads a forked copy must not inherit.

Workers read only what is committed: the caller's own uncommitted writes are invisible to them.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask

T = TypeVar("T")

#: The worker's app, built once per worker process by ``_start``.
_APP: Flask | None = None


def portable_settings(app: Flask) -> dict[str, Any]:
    """The caller's settings that can be sent to another process (functions, objects and the like stay behind;
    the worker's own configuration supplies those)."""
    return {key: value for key, value in app.config.items() if _portable(value)}


def _portable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


#: Allocations between two young-generation collections during a batch (the interpreter's default is 700).
BATCH_GC_THRESHOLD = 10_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run a batch job's loop with the cyclic collector working less: a batch builds and drops millions of small
    rows, tuples and dicts, and at the default threshold the collector starts every 700 allocations and walks the
    app's long-lived objects (models, metadata, templates) again and again (~6 % of an annual run's own CPU). Those
    are frozen out of its reach and young collections come every ``BATCH_GC_THRESHOLD`` allocations, so garbage
    cycles are still collected, only in larger sweeps. Restored afterwards."""
    thresholds = _collect_less()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _collect_less() -> tuple[int, int, int]:
    """Freeze what exists now and raise the young generation's threshold; the thresholds it replaced."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(BATCH_GC_THRESHOLD, *thresholds[1:])
    return thresholds


def _start(env: str, settings: dict[str, Any]) -> None:
    from kyodo_fund.factory import create_app

    global _APP
    _APP = create_app(env, {**settings, "DATABASE_READ_ONLY": True})
    # A worker lives for one batch job: its app is long-lived, the rest is the job's (see ``fewer_collections``).
    _collect_less()


def in_app(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in the worker's app context, with a fresh session that is closed afterwards."""
    from kyodo_fund.extensions import db

    if _APP is None:
        raise RuntimeError("in_app runs in a worker started by read_only_pool")
    with _APP.app_context():
        try:
            return function(*args)
        finally:
            db.session.remove()


@contextmanager
def read_only_pool(app: Flask, workers: int) -> Iterator[ProcessPoolExecutor]:
    """``workers`` processes, each with a read-only app like ``app``; submit ``in_app, function, *args``."""
    context = multiprocessing.get_context("forkserver")
    settings = portable_settings(app)
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start, initargs=(app.config["ENV_NAME"], settings)
    ) as pool:
        yield pool
