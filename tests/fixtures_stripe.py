"""The Stripe stand-in for tests: one server per test session on a free loopback port.

Fixtures: ``stripe_standin`` (session; base_url, api, register_webhook, pay, send_event, renew,
open_dispute, close_dispute, reset), ``gateway`` (a StripeGateway bound to it, store emptied
first), ``webhook_receiver`` (a loopback HTTP endpoint registered with the stand-in that records
deliveries; ``wait_for`` one), ``app_gateway`` (the Flask app pointed at the stand-in).
Helpers: ``sign_payload``, ``http``, ``wait_until``. A test that registers its own webhook
unregisters it; ``reset()`` leaves webhooks alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kyodo_fund.payments.standin import BackgroundStandin, events
from kyodo_fund.payments.stripe_gateway import StripeGateway, gateway_from_config, get_gateway

TEST_WEBHOOK_SECRET = "whsec_test_kyodo"


def wait_until(condition, timeout: float = 10, interval: float = 0.02) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds (for state with no event to wait on)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        pause.wait(interval)


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """A ``Stripe-Signature`` header, computed as Stripe documents it (t=..., v1=HMAC-SHA256)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass
class HttpResult:
    status: int
    headers: dict
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a test looks at the 303 itself


_opener = urllib.request.build_opener(_NoRedirect)


def http(method: str, url: str, form: dict | list | None = None, headers: dict | None = None) -> HttpResult:
    data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _opener.open(request, timeout=10) as response:
            return HttpResult(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return HttpResult(exc.code, dict(exc.headers), exc.read())


class Standin:
    """Test-side handle on the running stand-in (its stand-in-only routes are in its docstring)."""

    api_key = "sk_test_kyodo_tests"

    def __init__(self, server: BackgroundStandin) -> None:
        self.server = server
        self.base_url = server.base_url

    def api(self, method: str, path: str, form: dict | list | None = None, headers: dict | None = None) -> HttpResult:
        """A raw API call (for what the gateway does not wrap)."""
        return http(method, self.base_url + path, form, {"Authorization": f"Bearer {self.api_key}", **(headers or {})})

    def _config(self, path: str, form: dict | list | None = None, method: str = "POST") -> dict:
        result = http(method, self.base_url + "/_config" + path, form if form is not None else {})
        assert result.status == 200, (path, result.status, result.text)
        return result.json() if result.body else {}

    def register_webhook(self, url: str, secret: str, events: list[str] | None = None) -> str:
        webhook_id = uuid.uuid4().hex
        form = [("url", url), ("secret", secret), *(("events[]", e) for e in events or [])]
        self._config(f"/webhooks/{webhook_id}", form)
        return webhook_id

    def unregister_webhook(self, webhook_id: str) -> None:
        self._config(f"/webhooks/{webhook_id}", method="DELETE")

    def reset(self) -> None:
        """Forget every object, event and idempotency record (webhooks stay: their owners remove them)."""
        self._config("/data", method="DELETE")

    def pay(self, session_url: str, *, action: str = "pay", email: str | None = None) -> HttpResult:
        """Press a button on the hosted pay page as a browser would."""
        return http("POST", session_url, {"action": action, **({"email": email} if email else {})})

    def send_event(self, event_type: str, object_id: str, previous_attributes: dict | None = None) -> dict:
        form = {"type": event_type, "object": object_id}
        form.update({f"previous_attributes[{k}]": v for k, v in (previous_attributes or {}).items()})
        return self._config("/send_event", form)

    def renew(self, subscription_id: str, outcome: str = "paid") -> dict:
        return self._config(f"/subscriptions/{subscription_id}/renew", {"outcome": outcome})

    def open_dispute(self, charge_id: str, **form: str) -> dict:
        return self._config("/disputes", {"charge": charge_id, **form})

    def close_dispute(self, dispute_id: str, status: str) -> dict:
        return self._config(f"/disputes/{dispute_id}/close", {"status": status})


@pytest.fixture(scope="session")
def stripe_standin():
    events.WEBHOOK_DELAY_SECONDS = 0.05  # after the API response, without making tests wait a second
    server = BackgroundStandin().start()
    yield Standin(server)
    server.stop()


@pytest.fixture
def gateway(stripe_standin) -> StripeGateway:
    stripe_standin.reset()
    return gateway_from_config(
        {
            "STRIPE_SECRET_KEY": "",
            "STRIPE_API_BASE": stripe_standin.base_url,
            "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
        }
    )


@pytest.fixture
def app_gateway(app, stripe_standin) -> StripeGateway:
    """Point the (session) app at the stand-in; returns ``get_gateway(app)``."""
    stripe_standin.reset()
    app.config.update(
        STRIPE_SECRET_KEY="",
        STRIPE_API_BASE=stripe_standin.base_url,
        STRIPE_WEBHOOK_SECRET=TEST_WEBHOOK_SECRET,
        STRIPE_WEBHOOK_SECRETS=[],
    )
    app.extensions.pop("kyodo_fund.stripe_gateway", None)
    return get_gateway(app)


@dataclass
class Delivery:
    body: bytes
    signature: str

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records every POST; ``wait_for`` blocks (bounded) until an event of a type arrives."""

    url: str = ""
    secret: str = TEST_WEBHOOK_SECRET
    deliveries: list[Delivery] = field(default_factory=list)
    status: int = 200  #: what to answer; set 500 to simulate a failing endpoint
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def record(self, delivery: Delivery) -> None:
        with self._arrived:
            self.deliveries.append(delivery)
            self._arrived.notify_all()

    def of_type(self, event_type: str) -> list[Delivery]:
        with self._arrived:
            return [d for d in self.deliveries if d.event["type"] == event_type]

    def wait_for(
        self, event_type: str, *, object_id: str | None = None, event_id: str | None = None, timeout: float = 10
    ) -> Delivery:
        def found() -> Delivery | None:
            return next(
                (
                    d
                    for d in self.deliveries
                    if d.event["type"] == event_type
                    and object_id in (None, d.event["data"]["object"].get("id"))
                    and event_id in (None, d.event["id"])
                ),
                None,
            )

        with self._arrived:
            if not self._arrived.wait_for(lambda: found() is not None, timeout):
                seen = [d.event["type"] for d in self.deliveries]
                raise AssertionError(f"no {event_type} webhook within {timeout} s; got {seen}")
            return found()


@pytest.fixture
def webhook_receiver(stripe_standin):
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.record(Delivery(body, self.headers.get("Stripe-Signature", "")))
            self.send_response(receiver.status)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/stripe/webhook"
    webhook_id = stripe_standin.register_webhook(receiver.url, receiver.secret)
    yield receiver
    stripe_standin.unregister_webhook(webhook_id)
    server.shutdown()
    server.server_close()
