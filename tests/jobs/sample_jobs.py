"""Jobs for the runner tests, imported by textual reference like real ones."""

import threading

CALLS: list[str] = []
GATE = threading.Event()
STARTED = threading.Event()


def _ok(session, config):
    CALLS.append("ok")
    return {"done": 1}


def _boom(session, config):
    raise RuntimeError("job exploded")


def _slow(session, config):
    STARTED.set()
    assert GATE.wait(10)
    CALLS.append("slow")
    return {"done": 1}
