"""Events for the stand-in: one way to send them, delivery that remembers its outcome, listing.

localstripe records an ``Event`` for everything it sends and delivers it through
``webhooks.schedule_webhook``; its sender is swapped here for one that signs at delivery time
(as Stripe does) and keeps the outcome, so ``GET /v1/events?delivery_success=false`` works.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time

import aiohttp
from localstripe import webhooks
from localstripe.errors import UserError
from localstripe.resources import Event, StripeObject, try_convert_to_bool, try_convert_to_int

log = logging.getLogger("kyodo_fund.payments.standin")

#: localstripe waits 1 s so that the API response reaches the caller before the webhook does.
WEBHOOK_DELAY_SECONDS = 1.0


def install() -> None:
    webhooks._send_webhook = _deliver  # schedule_webhook() looks this name up at call time
    Event.pending_webhooks = 0
    Event._api_list_all = classmethod(_list_events)


def emit(event_type: str, obj: object, previous_attributes: dict | None = None) -> Event:
    """Record an event (it then shows in GET /v1/events) and deliver it to the registered endpoints."""
    event = Event(event_type, obj)
    if previous_attributes is not None:
        event.data["previous_attributes"] = previous_attributes
    webhooks.schedule_webhook(event)
    return event


def changed(before: dict, after: dict) -> dict:
    """Stripe's ``previous_attributes``: the old value of every top-level field that changed."""
    return {key: value for key, value in before.items() if after.get(key) != value}


async def _deliver(event: Event) -> None:
    # Same signature scheme as localstripe's sender, but signed at delivery time (as Stripe does)
    # and with the outcome kept on the event, so GET /v1/events?delivery_success=false works.
    targets = [h for h in webhooks._webhooks.values() if h.events is None or event.type in h.events]
    event.pending_webhooks = len(targets)
    await asyncio.sleep(WEBHOOK_DELAY_SECONDS)
    payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for hook in targets:
            stamp = int(time.time())
            mac = hmac.new(hook.secret.encode(), b"%d.%s" % (stamp, payload), hashlib.sha256).hexdigest()
            headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": f"t={stamp},v1={mac}"}
            try:
                async with http.post(hook.url, data=payload, headers=headers) as response:
                    delivered = 200 <= response.status < 300
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("webhook %s to %s failed: %s", event.type, hook.url, exc)
                continue
            if delivered:
                event.pending_webhooks -= 1
            log.info("webhook %s to %s: %s", event.type, hook.url, "delivered" if delivered else "refused")


def _list_events(cls, url, types=None, delivery_success=None, **params):
    delivery_success = try_convert_to_bool(delivery_success)
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        raise UserError(400, "Invalid types[]", {"param": "types"})
    if delivery_success not in (None, True, False):
        raise UserError(400, "Invalid delivery_success", {"param": "delivery_success"})
    listing = StripeObject._api_list_all.__func__(
        cls, url, limit=params.pop("limit", None), starting_after=params.pop("starting_after", None)
    )
    created = params.pop("created", None)
    kind = params.pop("type", None)
    if params:
        raise UserError(400, "Unexpected " + ", ".join(params))
    events = listing._list
    if kind is not None:
        events = [e for e in events if e.type == kind]
    if types is not None:
        events = [e for e in events if e.type in types]
    if isinstance(created, dict):
        events = [e for e in events if in_range(e.created, created)]
    elif created is not None:
        events = [e for e in events if e.created == try_convert_to_int(created)]
    if delivery_success is not None:
        events = [e for e in events if (e.pending_webhooks == 0) is delivery_success]
    listing._list = newest_first(events)
    return listing


def newest_first(objects: list) -> list:
    # Stripe lists newest first; within one second, the later insertion first.
    return sorted(reversed(objects), key=lambda o: o.created, reverse=True)


def in_range(value: int, bounds: dict) -> bool:
    tests = {"gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
    if not set(bounds) <= set(tests):
        raise UserError(400, "Invalid created filter", {"param": "created"})
    return all(tests[op](try_convert_to_int(limit)) for op, limit in bounds.items())
