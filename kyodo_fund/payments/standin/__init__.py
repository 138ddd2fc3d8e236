"""The Stripe stand-in: localstripe plus what it lacks, on loopback, for tests and local runs.

Run it with ``python -m kyodo_fund.payments.standin --port 8420`` (always 127.0.0.1, nothing is
written to disk); tests use ``BackgroundStandin``. Authenticate API calls with any ``sk_test_...``
key. localstripe provides customers, payment methods (``pm_card_visa``,
``pm_card_chargeCustomerFail``), payment intents, charges, refunds, products, plans,
subscriptions, invoices and events (see ``.venv/.../localstripe/``). Added here:

Stripe API (same shapes as api.stripe.com):
- ``POST /v1/prices``, ``GET /v1/prices``, ``GET /v1/prices/<id>`` — a recurring price is mirrored
  as a localstripe Plan with the same id, so subscriptions can use it.
- ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions`` (filters ``created``, ``status``,
  ``customer``, ``payment_intent``, ``subscription``), ``GET /v1/checkout/sessions/<id>``
  (``expand[]=line_items``), ``GET /v1/checkout/sessions/<id>/line_items``,
  ``POST /v1/checkout/sessions/<id>/expire``.
- ``GET /v1/invoice_payments?invoice=<id>[&status=paid]`` — invoice ↔ PaymentIntent link.
- ``GET /v1/disputes``, ``GET /v1/disputes/<id>``.
- ``GET /v1/events`` also filters by ``types[]`` and ``delivery_success``, newest first.
- Every ``POST /v1/...`` honours ``Idempotency-Key`` (replay, ``idempotency_error``, 409 in flight).
- ``POST /v1/refunds`` refuses more than the unrefunded amount, refunds what is left when
  ``amount`` is omitted, accepts ``reason`` and sends ``refund.created`` and ``charge.refunded``
  (with ``previous_attributes``).
- ``POST /v1/subscriptions/<id>`` accepts ``items[0][price]`` and ``proration_behavior=none``
  (swaps the price in place) and sends ``customer.subscription.updated``; subscription items
  carry ``price`` and ``current_period_start/end``.
- Charges' balance transactions carry a 3.6 % card fee; charges have ``disputed``.

Browser page (no API key):
- ``GET /pay/<session id>`` — the hosted pay page at ``session.url``; ``POST /pay/<id>`` with
  ``action=pay`` (charges ``pm_card_visa``, completes the session, 303 to ``success_url`` with
  ``{CHECKOUT_SESSION_ID}`` filled in, sends ``checkout.session.completed`` and, in subscription
  mode, ``invoice.paid``) or ``action=decline`` (402 page; payment mode records a failed
  PaymentIntent and sends ``payment_intent.payment_failed``; the session stays open and can be
  paid afterwards). ``email`` is required when the session has no ``customer_email``.

Stand-in only (no API key, never on real Stripe):
- ``POST /_config/webhooks/<id>`` (localstripe: ``url``, ``secret``, optional ``events[]``);
  ``DELETE /_config/webhooks/<id>`` unregisters it. ``DELETE /_config/data`` (localstripe) empties
  every object, idempotency record and event.
- ``POST /_config/send_event`` — ``type`` and ``object`` (any object id), optional
  ``previous_attributes[...]``: records and delivers that event about the object's current state.
- ``POST /_config/subscriptions/<id>/renew`` — bills the next period now (``outcome=paid``, the
  default, sends ``invoice.paid``; ``outcome=failed`` sends ``invoice.payment_failed`` and makes
  the subscription ``past_due``); answers with the new invoice.
- ``POST /_config/disputes`` — ``charge``, optional ``amount``, ``reason``: opens a dispute and
  sends ``charge.dispute.created``; ``POST /_config/disputes/<id>/close`` with ``status=won|lost``
  sends ``charge.dispute.closed``.

Webhooks are delivered once, ``WEBHOOK_DELAY_SECONDS`` after the call, signed like Stripe
(``t=<delivery time>,v1=<HMAC-SHA256>``); failures are not retried, they stay visible through
``GET /v1/events?delivery_success=false``. One stand-in per process: localstripe's app and store
are module globals.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from aiohttp import web
from localstripe import server, webhooks
from localstripe.errors import UserError
from localstripe.resources import StripeObject, Subscription, store

from kyodo_fund.payments.standin import checkout, events, gaps, prices
from kyodo_fund.payments.standin.events import changed, emit
from kyodo_fund.payments.standin.gaps import Dispute

HOST = "127.0.0.1"
_installed = False


def install() -> web.Application:
    """Extend localstripe's app once per process and return it."""
    global _installed
    app = server.app
    if _installed:
        return app
    store.dump_to_disk = lambda: None  # localstripe pickles every write to /tmp/localstripe.pickle
    events.install()
    gaps.install(app)
    prices.add_routes(app)
    checkout.add_routes(app)
    _let_browsers_reach_pay_page(app)
    app.router.add_delete("/_config/webhooks/{id}", delete_webhook)
    app.router.add_post("/_config/send_event", send_event)
    app.router.add_post("/_config/subscriptions/{id}/renew", renew_subscription)
    app.router.add_post("/_config/disputes", open_dispute)
    app.router.add_post("/_config/disputes/{id}/close", close_dispute)
    _installed = True
    return app


def _let_browsers_reach_pay_page(app: web.Application) -> None:
    # localstripe's auth middleware wants an API key on every path but /_config/; a donor's
    # browser has none.
    position = list(app.middlewares).index(server.auth_middleware)

    @web.middleware
    async def auth_except_pay_page(request: web.Request, handler):
        if request.path.startswith("/pay/"):
            return await handler(request)
        return await server.auth_middleware(request, handler)

    app.middlewares[position] = auth_except_pay_page


async def _form(request: web.Request) -> dict:
    return await server.get_post_data(request) or {}


async def delete_webhook(request: web.Request) -> web.Response:
    if webhooks._webhooks.pop(request.match_info["id"], None) is None:
        raise UserError(404, "No such webhook")
    return web.Response()


async def send_event(request: web.Request) -> web.Response:
    data = await _form(request)
    event_type, object_id = data.pop("type", None), data.pop("object", None)
    previous = data.pop("previous_attributes", None)
    if not isinstance(event_type, str) or not isinstance(object_id, str) or data:
        raise UserError(400, "Expected type, object and optionally previous_attributes[...]")
    cls = StripeObject._get_class_for_id(object_id)
    if cls is None:
        raise UserError(404, f"No object kind for id {object_id}")
    event = emit(event_type, cls._api_retrieve(object_id), previous)
    return server.json_response(event._export())


async def renew_subscription(request: web.Request) -> web.Response:
    data = await _form(request)
    outcome = data.pop("outcome", "paid")
    if outcome not in ("paid", "failed") or data:
        raise UserError(400, "Expected outcome=paid|failed")
    subscription = Subscription._api_retrieve(request.match_info["id"])
    invoice = gaps.renew_subscription(subscription, succeed=outcome == "paid")
    return server.json_response(invoice._export())


async def open_dispute(request: web.Request) -> web.Response:
    dispute = Dispute(**await _form(request))
    emit("charge.dispute.created", dispute)
    return server.json_response(dispute._export())


async def close_dispute(request: web.Request) -> web.Response:
    dispute = Dispute._api_retrieve(request.match_info["id"])
    status = (await _form(request)).get("status")
    if status not in ("won", "lost") or dispute.status in ("won", "lost"):
        raise UserError(400, "Expected status=won|lost on an open dispute")
    before = dispute._export()
    dispute.status = status
    emit("charge.dispute.closed", dispute, changed(before, dispute._export()))
    return server.json_response(dispute._export())


def serve(port: int = 8420) -> None:
    """Run in the foreground until interrupted (``python -m kyodo_fund.payments.standin``)."""
    web.run_app(install(), host=HOST, port=port)


class BackgroundStandin:
    """The stand-in on a free loopback port, in a daemon thread with its own event loop."""

    def __init__(self, port: int = 0) -> None:
        self._sock = socket.socket()
        self._sock.bind((HOST, port))
        self.port: int = self._sock.getsockname()[1]
        self.base_url = f"http://{HOST}:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="stripe-standin", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundStandin:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError("the Stripe stand-in did not start") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(install(), access_log=None)
        try:
            self._loop.run_until_complete(runner.setup())
            self._loop.run_until_complete(web.SockSite(runner, self._sock).start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self._loop)  # webhook deliveries still waiting
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()
