"""Donation-scheme web benchmark: project list and page throughput, SQL per page, webhook events/s.

Run ``bench/seed_web.py`` first (10,000 projects, 1,000,000 donations), then:

    .venv/bin/python bench/bench_web.py                     # ~2 min; writes nothing unless --write
    .venv/bin/python bench/bench_web.py --write             # also (re)writes its section of bench/RESULTS.md

1. Throughput: ``gunicorn -w 2 app:app`` with production settings on the seeded database; ``wrk`` measures,
   in one run, the hello-world baseline ``/healthz`` (tiny JSON, no database), the list, the list sorted by
   funding on a deep page, one project page, then the baseline again. Each route is reported as req/s and
   as a ratio to the mean of the two baselines (target for the list: >= 0.35).
2. SQL statements per page, counted in-process with ``before_cursor_execute``, on a 10-project database
   (created here, ``<database>_q10``) and on the seeded one: they must be equal.
3. Webhook events/s: distinct events, signed like Stripe does, POSTed to the same gunicorn by a small thread
   pool; then one event id replayed (the dedupe path), then wrong signatures (the cheapest path: it shows
   how fast the client itself can go).
4. Where the time goes: CPU per request of each part of the two pages, in-process (``--skip-breakdown``).

``--rounds N`` repeats baseline, list, deep page, page N times before the last baseline, for noisy machines.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for entry in (str(ROOT), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import seed_web  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

LIST_TARGET = 0.35
RESULTS_HEADING = "## Donation scheme web benchmark"
#: Ignored by ``donations.events.handle_event`` (no case for it), so it needs no Stripe API call:
#: what it measures is verify + dedupe insert + commit + ack. Stripe sends it for every Checkout payment.
WEBHOOK_EVENT_TYPE = "payment_intent.created"
#: Never sent anywhere: production refuses to start without a key, and no measured route calls Stripe.
DUMMY_STRIPE_KEY = "sk_test_bench_dummy_never_used"


# --- gunicorn -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log_path: Path
    webhook_secret: str
    command: list[str]
    env_shown: dict[str, str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gunicorn(database_url: str, workers: int, instance_dir: Path) -> Server:
    port = free_port()
    webhook_secret = "whsec_bench_" + secrets.token_hex(16)
    shown = {
        "KYODO_ENV": "production",
        "KYODO_SECRET_KEY": "bench",
        "KYODO_DATABASE_URL": database_url,
        "KYODO_STRIPE_SECRET_KEY": DUMMY_STRIPE_KEY,
        "KYODO_STRIPE_WEBHOOK_SECRET": "whsec_bench_<random>",
        "KYODO_INSTANCE_PATH": "<temporary directory>",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYODO_")}
    env.update(shown)
    env.update(KYODO_STRIPE_WEBHOOK_SECRET=webhook_secret, KYODO_INSTANCE_PATH=str(instance_dir))
    command = [str(ROOT / ".venv/bin/gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "app:app"]
    log_path = instance_dir / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(port, process, log_path, webhook_secret, command, shown)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if http_get(port, "/healthz")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"gunicorn did not answer /healthz within 30 s:\n{log_path.read_text()[-3000:]}")


def http_get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- wrk ----------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    name: str
    path: str
    rps: float
    latency_avg: str
    latency_p99: str
    requests: int
    errors: str = ""
    command: str = ""


def _wrk_errors(output: str) -> str:
    found = [line.strip() for line in output.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return "; ".join(found)


def run_wrk(
    name: str, base: str, path: str, *, duration: int, threads: int, connections: int, timeout: int = 10
) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", f"--timeout={timeout}s", "--latency",
               base + path]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    latency = re.search(r"Latency\s+(\S+)", output).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1)
    return WrkResult(name, path, rps, latency, p99, requests, _wrk_errors(output), " ".join(command))


# --- SQL statements per page ---------------------------------------------------------------------


@dataclass
class PageSql:
    count: int
    #: Wall time spent in the database for the whole page (best of the timed requests).
    total_ms: float
    slowest_ms: float
    slowest: str


def count_statements(database_url: str, paths: Sequence[str], *, timed: int = 3) -> dict[str, PageSql]:
    """Statements each path runs and the time they take, from the second request on (the first warms caches)."""
    from kyodo_fund.factory import create_app

    with tempfile.TemporaryDirectory(prefix="kyodo_bench_") as instance:
        previous = os.environ.get("KYODO_INSTANCE_PATH")
        os.environ["KYODO_INSTANCE_PATH"] = instance
        # The anonymous page cache would answer repeat requests without SQL; count what a render costs.
        app = create_app(
            "production",
            {
                "DATABASE_URL": database_url,
                "SECRET_KEY": "bench",
                "STRIPE_SECRET_KEY": DUMMY_STRIPE_KEY,
                "PUBLIC_PAGE_CACHE_SECONDS": 0,
            },
        )
        engine = app.extensions["kyodo_db_engine"]
        seen: list[list] = []

        def _before(_conn, _cursor, statement, _params, _context, _executemany) -> None:
            seen.append([statement, time.perf_counter()])

        def _after(_conn, _cursor, _statement, _params, _context, _executemany) -> None:
            seen[-1][1] = time.perf_counter() - seen[-1][1]

        event.listen(engine, "before_cursor_execute", _before)
        event.listen(engine, "after_cursor_execute", _after)
        client = app.test_client()
        found: dict[str, PageSql] = {}
        try:
            for path in paths:
                if client.get(path).status_code != 200:
                    raise SystemExit(f"{path} answered {client.get(path).status_code} in-process")
                runs = []
                for _ in range(timed):
                    seen.clear()
                    client.get(path)
                    runs.append(list(seen))
                counts = {len(run) for run in runs}
                if len(counts) != 1:
                    raise SystemExit(f"{path} ran a varying number of statements: {sorted(counts)}")
                best = min(runs, key=lambda run: sum(t for _s, t in run))
                statement, seconds = max(best, key=lambda item: item[1])
                found[path] = PageSql(
                    len(best), sum(t for _s, t in best) * 1000, seconds * 1000, " ".join(statement.split())[:160]
                )
        finally:
            event.remove(engine, "before_cursor_execute", _before)
            event.remove(engine, "after_cursor_execute", _after)
            engine.dispose()
            if previous is None:
                os.environ.pop("KYODO_INSTANCE_PATH", None)
            else:
                os.environ["KYODO_INSTANCE_PATH"] = previous
    return found


def small_database_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_q10").render_as_string(hide_password=False)


# --- webhooks -----------------------------------------------------------------------------------


def stripe_event(event_id: str, created: int) -> bytes:
    """A payment_intent.created event shaped like Stripe's (about 1 KB, as on the wire)."""
    intent = "pi_" + hashlib.sha256(event_id.encode()).hexdigest()[:24]
    body = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_" + intent[3:17], "idempotency_key": secrets.token_hex(16)},
        "type": WEBHOOK_EVENT_TYPE,
        "data": {
            "object": {
                "id": intent,
                "object": "payment_intent",
                "amount": 5000,
                "amount_received": 0,
                "currency": "jpy",
                "capture_method": "automatic",
                "client_secret": intent + "_secret_" + secrets.token_hex(8),
                "confirmation_method": "automatic",
                "created": created,
                "customer": None,
                "description": None,
                "latest_charge": None,
                "livemode": False,
                "metadata": {"donation_public_id": secrets.token_hex(16)},
                "payment_method_types": ["card"],
                "status": "requires_payment_method",
            }
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


WEBHOOK_PATH = "/payments/stripe/webhook"


def raw_post(path: str, payload: bytes, signature: str) -> bytes:
    """The whole HTTP request, built before the clock starts: the client must not be what is measured."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Stripe-Signature: {signature}\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + payload


def _send(port: int, request: bytes) -> int:
    # A raw socket per event (gunicorn's sync workers close every connection, and Stripe opens one per
    # delivery too); http.client costs the client several times more CPU, which the server then lacks.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0


@dataclass
class WebhookResult:
    name: str
    sent: int
    ok: int
    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def post_events(name: str, port: int, requests: Sequence[bytes], *, threads: int, time_limit: float) -> WebhookResult:
    """Send pre-built requests from ``threads`` threads; stops submitting at ``time_limit`` seconds."""
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    deadline = started + time_limit

    def one(request: bytes) -> int:
        if time.perf_counter() > deadline:
            return -1
        return _send(port, request)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for status in pool.map(one, requests):
            statuses[status] = statuses.get(status, 0) + 1
    seconds = time.perf_counter() - started
    sent = len(requests) - statuses.pop(-1, 0)
    return WebhookResult(name, sent, statuses.get(200, 0), seconds, statuses)


def bench_webhooks(server: Server, database_url: str, *, events: int, threads: int, time_limit: float) -> dict:
    run = secrets.token_hex(4)
    now = int(time.time())
    secret = server.webhook_secret
    # Signed up front, so the client's HMAC does not compete with the server for the cores;
    # Stripe's tolerance is 300 s, longer than all the phases together (each is bounded by time_limit).
    payloads = [stripe_event(f"evt_bench_{run}_{i:06d}", now) for i in range(events)]
    phases = {
        "distinct": [raw_post(WEBHOOK_PATH, p, sign(p, secret, now)) for p in payloads],
        "replayed": [raw_post(WEBHOOK_PATH, payloads[0], sign(payloads[0], secret, now))] * events,
        "rejected": [raw_post(WEBHOOK_PATH, p, sign(p, "whsec_wrong", now)) for p in payloads],
    }
    results: dict = {"run": run}
    for name, requests in phases.items():
        results[name] = post_events(name, server.port, requests, threads=threads, time_limit=time_limit)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        results["recorded"] = conn.scalar(
            text("SELECT count(*) FROM stripe_events WHERE id LIKE :prefix"), {"prefix": f"evt_bench_{run}_%"}
        )
    engine.dispose()
    return results


# --- where the time goes ----------------------------------------------------------------------


def cpu_breakdown(database_url: str, slug: str, *, repeat: int = 100) -> list[tuple[str, float, str]]:
    """(label, CPU ms per call, "list"/"page" for a part of that request) for both pages and their parts,
    in-process with the test client. ``time.process_time`` is not inflated by other processes on the
    machine; each part is timed alone, so the parts do not add up exactly to their request."""
    from flask import render_template, render_template_string

    from kyodo_fund.factory import create_app

    # The app first: it imports the blueprints in the order their packages expect.
    app = create_app(
        "production", {"DATABASE_URL": database_url, "SECRET_KEY": "bench", "STRIPE_SECRET_KEY": DUMMY_STRIPE_KEY}
    )
    from kyodo_fund.extensions import db
    from kyodo_fund.projects import queries
    from kyodo_fund.projects.forms import SearchForm
    from kyodo_fund.projects.models import today_in_tokyo
    from kyodo_fund.web import paginate

    client = app.test_client(use_cookies=False)

    def cpu_ms(fn: Callable[[], object]) -> float:
        for _ in range(5):
            fn()
        samples = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(repeat // 5):
                fn()
            samples.append((time.process_time() - started) / (repeat // 5) * 1000)
        return statistics.median(samples)

    def in_request(path: str, body: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            with app.test_request_context(path):
                body()
                db.session.remove()

        return run

    fields = "".join(f"{{{{ field(form.{name}) }}}}" for name in ("q", "category", "municipality", "status", "sort"))
    form_template = '{% from "_macros/forms.html" import field %}' + fields

    def filter_form() -> None:
        form = SearchForm(formdata=None)
        form.validate()
        render_template_string(form_template, form=form)

    with app.test_request_context("/projects/"):
        page = paginate(db.session, queries.public_list_query())
        project = queries.load_full(db.session, slug)
        db.session.expunge_all()
        db.session.remove()
    cards = '{% from "projects/_macros.html" import card %}{% for p in items %}{{ card(p, today) }}{% endfor %}'
    list_page = lambda: paginate(db.session, queries.public_list_query())  # noqa: E731
    base_only = '{% extends "base.html" %}{% block content %}{% endblock %}'
    show = lambda: render_template(  # noqa: E731
        "projects/show.html", project=project, is_member=False, today=today_in_tokyo(), due_days=60
    )
    rows = [
        ("`GET /healthz`", cpu_ms(lambda: client.get("/healthz")), ""),
        ("`GET /projects/`", cpu_ms(lambda: client.get("/projects/")), ""),
        ("count + page query (ORM, 2 statements)", cpu_ms(in_request("/projects/", list_page)), "list"),
        ("search form: 5 WTForms fields, ~105 `<option>`s", cpu_ms(in_request("/projects/", filter_form)), "list"),
        (
            f"{len(page.items)} project cards",
            cpu_ms(
                in_request(
                    "/projects/", lambda: render_template_string(cards, items=page.items, today=today_in_tokyo())
                )
            ),
            "list",
        ),
        (
            "base.html alone (nav, CSRF meta token, footer)",
            cpu_ms(in_request("/projects/", lambda: render_template_string(base_only))),
            "list",
        ),
        ("`GET /projects/<slug>`", cpu_ms(lambda: client.get(f"/projects/{slug}")), ""),
        (
            "queries.load_full (ORM: project, organisation, collections)",
            cpu_ms(in_request("/", lambda: queries.load_full(db.session, slug))),
            "page",
        ),
        ("show.html, project already loaded", cpu_ms(in_request("/", show)), "page"),
    ]
    app.extensions["kyodo_db_engine"].dispose()
    return rows


# --- report -------------------------------------------------------------------------------------


def machine(database_url: str) -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    engine = create_engine(database_url)
    with engine.connect() as conn:
        postgres = str(conn.scalar(text("SHOW server_version")))
    engine.dispose()
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "python": platform.python_version(), "postgres": postgres}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class Summary:
    baseline: float
    ratios: dict[str, float]
    list_ratio: float
    queries_equal: bool


def summarise(runs: Sequence[WrkResult], queries: dict[str, tuple[PageSql, PageSql]]) -> Summary:
    baseline = statistics.mean(w.rps for w in runs if w.path == "/healthz")
    by_path: dict[str, list[float]] = {}
    for w in runs:
        if w.path != "/healthz":
            by_path.setdefault(w.path, []).append(w.rps)
    ratios = {path: statistics.mean(values) / baseline for path, values in by_path.items()}
    return Summary(baseline, ratios, ratios["/projects/"], all(a.count == b.count for a, b in queries.values()))


def render_section(r: dict) -> str:
    m, sizes, summary = r["machine"], r["sizes"], r["summary"]
    baselines = [w for w in r["wrk"] if w.path == "/healthz"]
    lines = [
        RESULTS_HEADING,
        "",
        f"Run {r['date']} on {m['nproc']} cores ({m['cpu']}), Python {m['python']}, PostgreSQL {m['postgres']}; "
        f"load average before/after: {r['load_before']} / {r['load_after']}.",
        "",
        "```",
        f".venv/bin/python bench/seed_web.py --projects {sizes['projects']} --donations {sizes['donations']}",
        ".venv/bin/python " + " ".join(r["argv"]),
        "# which starts and measures:",
        "env " + " ".join(f"{k}={v}" for k, v in r["server_env"].items()) + " \\",
        "    " + " ".join(r["server_command"]).replace(str(ROOT) + "/", ""),
        r["wrk_example"],
        "```",
        "",
        f"Seed: {sizes['projects']:,} published projects, {sizes['donations']:,} paid donations, "
        f"{sizes['orgs']:,} approved organisations; the projects' counters add up to the donations "
        f"(¥{sizes['raised_yen']:,}). Recorded by the seed: {r['seed_note'] or 'n/a'}.",
        "",
        "### Requests per second (one gunicorn, in the order run)",
        "",
        "| # | route | path | req/s | ratio to baseline | avg latency | p99 latency | errors |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for n, w in enumerate(r["wrk"], 1):
        lines.append(
            f"| {n} | {w.name} | `{w.path}` | {w.rps:,.0f} | {w.rps / summary.baseline:.2f} | {w.latency_avg} "
            f"| {w.latency_p99} | {w.errors or 'none'} |"
        )
    lines += [
        "",
        f"Baseline = mean of the {len(baselines)} `/healthz` runs: {summary.baseline:,.0f} req/s.",
        "",
        f"**Project list: ratio {summary.list_ratio:.2f}, target ≥ {LIST_TARGET}: "
        f"{verdict(summary.list_ratio >= LIST_TARGET)}.** "
        + "; ".join(f"`{p}` {v:.2f}" for p, v in summary.ratios.items() if p != "/projects/")
        + ".",
        "",
        "### SQL statements per page (in-process, anonymous visitor, warm)",
        "",
        f"| path | statements, 10 projects | statements, {sizes['projects']:,} projects | equal "
        f"| SQL ms at {sizes['projects']:,} | slowest statement at {sizes['projects']:,} |",
        "|---|---:|---:|---|---:|---|",
    ]
    for path, (small, large) in r["queries"].items():
        lines.append(
            f"| `{path}` | {small.count} | {large.count} | {'yes' if small.count == large.count else '**NO**'} "
            f"| {large.total_ms:.1f} | {large.slowest_ms:.1f} ms: `{large.slowest[:90]}…` |"
        )
    lines += ["", f"**Equal at both sizes: {verdict(summary.queries_equal)}.**", ""]
    if r.get("webhooks"):
        wh = r["webhooks"]
        lines += [
            "### Webhook events per second",
            "",
            f"`POST {WEBHOOK_PATH}` to the same gunicorn from {r['webhook_threads']} client threads, one connection "
            "per event, signed `t=…,v1=HMAC-SHA256` with the configured secret (requests built before timing). "
            f"Event type `{WEBHOOK_EVENT_TYPE}`, which the handler does not act on, so the figure is "
            "**verify + dedupe insert into stripe_events + commit + 200, no Stripe fetch**. Every type the platform "
            "acts on re-fetches its object from Stripe first (payments.md O2), which this benchmark cannot reach; "
            "such events cost that round trip to api.stripe.com on top.",
            "",
            "| path taken | sent | answers | seconds | per second |",
            "|---|---:|---|---:|---:|",
        ]
        labels = {
            "distinct": "new event: verify + record + commit",
            "replayed": "same event id again: verify + dedupe hit",
            "rejected": "wrong signature: 400 (also shows the client is not the limit)",
        }
        for key, label in labels.items():
            res = wh[key]
            answers = ", ".join(f"{n:,}× {status}" for status, n in sorted(res.statuses.items()))
            rate = res.sent / res.seconds if res.seconds else 0
            lines.append(f"| {label} | {res.sent:,} | {answers} | {res.seconds:.1f} | {rate:,.0f} |")
        lines += [
            "",
            f"**Webhook events/s (verify + dedupe + record, no Stripe fetch): {wh['distinct'].per_second:,.0f}.** "
            f"stripe_events rows written by this run: {wh['recorded']:,} (expected {wh['distinct'].ok:,}).",
            "",
        ]
    if r.get("breakdown"):
        totals = {"list": r["breakdown"][1][1], "page": r["breakdown"][6][1]}  # the two whole requests
        lines += [
            "### Where the time goes (CPU per request, in-process test client, same database)",
            "",
            "| request / part | CPU ms | share of its request |",
            "|---|---:|---:|",
        ]
        for name, ms, parent in r["breakdown"]:
            if parent:
                lines.append(f"| ↳ {name} | {ms:.2f} | {ms / totals[parent]:.0%} |")
            else:
                lines.append(f"| **{name}** | {ms:.2f} | |")
        lines += [
            "",
            "Parts are timed alone and overlap a little. Analysis and fixes: `bench/README.md`, “Findings”.",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace (or append) only our section; other helpers own the rest of the file."""
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(RESULTS_HEADING)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: section + "\n", current, count=1)
    else:
        updated = current.rstrip() + "\n\n" + section
    path.write_text(updated.rstrip() + "\n")


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=seed_web.DEFAULT_URL, help="the seeded database (seed_web.py)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat baseline, list, deep page, page (then one last baseline)"
    )
    parser.add_argument("--deep-page", type=int, default=50, help="page of the funded-sort list (default 50)")
    parser.add_argument("--webhook-events", type=int, default=2000, help="distinct events to POST (default 2,000)")
    parser.add_argument("--webhook-threads", type=int, default=8, help="client threads for webhooks (default 8)")
    parser.add_argument("--webhook-time-limit", type=float, default=60, help="seconds per webhook phase (60)")
    parser.add_argument("--skip-webhooks", action="store_true")
    parser.add_argument("--skip-breakdown", action="store_true", help="skip the in-process CPU breakdown")
    parser.add_argument("--write", action="store_true", help="(re)write our section of bench/RESULTS.md")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    return parser.parse_args(argv)


def measure_queries(database_url: str, slug: str, say: Callable[[str], None]) -> dict[str, tuple[PageSql, PageSql]]:
    small_url = small_database_url(database_url)
    say(f"SQL per page: seeding {make_url(small_url).database} with 10 projects ...")
    seed_web.seed_database(small_url, seed_web.Sizes(10, 1000, 5, 100, 500), log=lambda _line: None)
    paths = ["/projects/", "/projects/?sort=funded", "/projects/{slug}"]
    small = count_statements(small_url, [p.format(slug="bench-project-1") for p in paths])
    large = count_statements(database_url, [p.format(slug=slug) for p in paths])
    return {
        p.replace("{slug}", "<slug>"): (small[p.format(slug="bench-project-1")], large[p.format(slug=slug)])
        for p in paths
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    say: Callable[[str], None] = print
    if shutil.which("wrk") is None:
        say("wrk is not installed: `apt-get install -y wrk` (Debian package), then run this again.")
        return 2
    sizes = seed_web.check(args.database_url)
    if not sizes["projects"]:
        say("The database has no published project: run `.venv/bin/python bench/seed_web.py` first.")
        return 2
    say("database: " + ", ".join(f"{k}={v:,}" for k, v in sizes.items()))
    seed_note = seed_web.seed_note(args.database_url)
    say(f"seeded by: {seed_note or '(no note)'}")
    if sizes["raised_yen"] != sizes["donated_yen"]:
        say("warning: project counters do not match the donations (re-seed?)")
    engine = create_engine(args.database_url)
    with engine.connect() as conn:
        # The most-given-to project: the worst case should the page ever look at its donations.
        slug = conn.scalar(
            text("SELECT slug FROM projects WHERE status = 'published' ORDER BY donor_count DESC, id LIMIT 1")
        )
    engine.dispose()
    load_before = loadavg()
    say(f"load average: {load_before} (other processes on these cores make every figure noisier)")

    queries = measure_queries(args.database_url, slug, say)
    for path, (a, b) in queries.items():
        say(f"  {path:<24} statements at 10 projects: {a.count}, at {sizes['projects']:,}: {b.count} "
            f"({'equal' if a.count == b.count else 'DIFFER'}); SQL {b.total_ms:.1f} ms, slowest {b.slowest_ms:.1f} ms: "
            f"{b.slowest[:70]}")  # fmt: skip

    pages = [
        ("project list", "/projects/"),
        ("list, funded sort, deep page", f"/projects/?sort=funded&page={args.deep_page}"),
        ("project page", f"/projects/{slug}"),
    ]
    plan = [step for _ in range(args.rounds) for step in [("baseline", "/healthz"), *pages]]
    plan.append(("baseline", "/healthz"))
    results: dict = {"wrk": []}
    with tempfile.TemporaryDirectory(prefix="kyodo_bench_") as instance:
        server = start_gunicorn(args.database_url, args.workers, Path(instance))
        try:
            say(f"gunicorn ({args.workers} workers) on {server.base}; warming up ...")
            for _name, path in pages:
                status, _body = http_get(server.port, path)
                if status != 200:
                    raise SystemExit(f"{path} answered {status}")
                run_wrk("warm-up", server.base, path, duration=2, threads=args.threads, connections=args.connections)
            for name, path in plan:
                w = run_wrk(
                    name, server.base, path, duration=args.duration, threads=args.threads, connections=args.connections
                )
                say(f"  {name:<30} {w.rps:>8,.0f} req/s  avg {w.latency_avg:>8}  p99 {w.latency_p99:>8}  {w.errors}")
                results["wrk"].append(w)
            if not args.skip_webhooks:
                say(f"webhooks: {args.webhook_events:,} events per phase, {args.webhook_threads} threads ...")
                wh = results["webhooks"] = bench_webhooks(
                    server,
                    args.database_url,
                    events=args.webhook_events,
                    threads=args.webhook_threads,
                    time_limit=args.webhook_time_limit,
                )
                for key in ("distinct", "replayed", "rejected"):
                    res = wh[key]
                    say(f"  {key:<16} {res.sent:>6,} sent in {res.seconds:5.1f} s  {res.sent / res.seconds:>6,.0f}/s  "
                        f"answers {res.statuses}")  # fmt: skip
                say(f"  stripe_events rows written: {wh['recorded']:,}")
        finally:
            server.stop()
            log_text = server.log_path.read_text() if server.log_path.exists() else ""
        if "Traceback" in log_text:
            say("gunicorn log shows errors (tail):\n" + log_text[-3000:])
    load_after = loadavg()

    summary = summarise(results["wrk"], queries)
    say(f"baseline (mean of the /healthz runs) {summary.baseline:,.0f} req/s; load average now {load_after}")
    for path, ratio in summary.ratios.items():
        say(f"  {path:<40} ratio {ratio:.2f}")
    say(f"list ratio {summary.list_ratio:.2f} (target >= {LIST_TARGET}): {verdict(summary.list_ratio >= LIST_TARGET)}")
    say(f"SQL statements equal at 10 and {sizes['projects']:,} projects: {verdict(summary.queries_equal)}")
    if results.get("webhooks"):
        say(f"webhook events/s (verify + dedupe + record, no Stripe fetch): {wh['distinct'].per_second:,.0f}")

    if not args.skip_breakdown:
        say("CPU per request, in-process:")
        results["breakdown"] = cpu_breakdown(args.database_url, slug)
        for name, ms, parent in results["breakdown"]:
            say(f"  {'  ' if parent else ''}{name.replace('`', ''):<60} {ms:6.2f} ms")

    if args.write:
        report = {
            **results,
            "summary": summary,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(args.database_url),
            "load_before": load_before,
            "load_after": load_after,
            "sizes": sizes,
            "seed_note": seed_note,
            "server_env": server.env_shown,
            "server_command": server.command,
            "wrk_example": f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --timeout=10s --latency "
            "http://127.0.0.1:<port><path>",
            "argv": ["bench/bench_web.py", *(argv if argv is not None else sys.argv[1:])],
            "queries": queries,
            "webhook_threads": args.webhook_threads,
        }
        write_section(args.results, render_section(report))
        say(f"wrote {RESULTS_HEADING!r} in {args.results}")
    return 0 if summary.list_ratio >= LIST_TARGET and summary.queries_equal else 1


if __name__ == "__main__":
    sys.exit(main())
