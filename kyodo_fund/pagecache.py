"""A small per-process cache of public list pages for anonymous visitors.

Rendering the project list costs ~15 ms of CPU (form options, twenty translated cards); most
visitors are anonymous and see the same page. A hit is served from memory for
``PUBLIC_PAGE_CACHE_SECONDS`` (0 switches it off), so a progress bar on a list may lag that long;
project pages themselves are never cached, so a donor always sees their gift there.
Only responses that set no cookie and carry no flash message are stored.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, make_response, request, session
from flask_babel import get_locale
from flask_login import current_user

_MAX_ENTRIES = 512


class _Store:
    def __init__(self) -> None:
        self._items: OrderedDict[tuple, tuple[float, bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[bytes, str] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return item[1], item[2]

    def put(self, key: tuple, ttl: float, body: bytes, mimetype: str) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, body, mimetype)
            self._items.move_to_end(key)
            while len(self._items) > _MAX_ENTRIES:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


store = _Store()


def _cacheable() -> bool:
    return (
        request.method == "GET"
        and not current_user.is_authenticated
        and "_flashes" not in session
        and "lang" not in request.args  # switching language writes the session
    )


def cached_for_anonymous(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        ttl = current_app.config.get("PUBLIC_PAGE_CACHE_SECONDS", 0)
        if ttl <= 0 or not _cacheable():
            return view(*args, **kwargs)
        key = (request.endpoint, request.full_path, str(get_locale()))
        if (hit := store.get(key)) is not None:
            response = current_app.response_class(hit[0], mimetype=hit[1])
            response.headers["X-Page-Cache"] = "hit"
        else:
            g.public_page = True  # base.html then leaves out the per-session CSRF token
            response = make_response(view(*args, **kwargs))
            if response.status_code == 200 and not session.modified:
                store.put(key, ttl, response.get_data(), response.mimetype)
            response.headers["X-Page-Cache"] = "miss"
        response.cache_control.public = True
        response.cache_control.max_age = int(ttl)
        return response

    return wrapped
