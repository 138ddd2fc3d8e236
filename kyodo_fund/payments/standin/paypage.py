"""The stand-in's hosted pay page at ``session.url``: Stripe Checkout reduced to two buttons.

"Pay" charges the test card ``pm_card_visa`` and redirects (303) to the success URL; "Decline"
behaves like a declined card on Checkout: the page says so (402) and the session stays open.
Self-contained HTML (no scripts, no external assets), Japanese first with English alongside.
"""

from __future__ import annotations

from html import escape

from aiohttp import web
from localstripe.errors import UserError

from kyodo_fund.payments.standin.checkout import CheckoutSession

_STYLE = (
    "body{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;line-height:1.6}"
    "button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0}"
    ".amount{font-size:2rem;font-weight:bold}.error{color:#a00;border:1px solid #a00;padding:.5rem}"
    ".note{color:#555;font-size:.9rem}"
)
_SUBMIT_LABELS = {"donate": "寄付する / Donate", "book": "予約する / Book"}


def _render(session: CheckoutSession, message: str = "", status: int = 200) -> web.Response:
    items = "".join(f"<li>{escape(item['description'])} × {item['quantity']}</li>" for item in session._line_items)
    monthly = '<p class="note">毎月のお支払い / Billed monthly</p>' if session.mode == "subscription" else ""
    body = f"<h1>お支払い / Payment</h1><ul>{items}</ul>"
    body += f'<p class="amount">{_money(session.amount_total, session.currency)}</p>{monthly}'
    if message:
        body += f'<p class="error" role="alert">{message}</p>'
    if session.status == "open":
        body += _form(session)
    elif session.status == "complete":
        body += "<p>お支払いは完了しています。 / This payment is complete.</p>"
    else:
        body += "<p>このお支払いページは期限切れです。 / This payment page has expired.</p>"
        status = 410
    if session.cancel_url and session.status == "open":
        body += f'<p><a href="{escape(session.cancel_url)}">戻る / Back</a></p>'
    page = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Stripe stand-in: {escape(session.id)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main><p class=note>テスト用の Stripe 代替サーバー / Stripe stand-in for tests</p>"
        "</body></html>"
    )
    return web.Response(text=page, content_type="text/html", status=status)


def _form(session: CheckoutSession) -> str:
    if session.customer_email:
        email = f"<p>{escape(session.customer_email)}</p>"
    else:
        email = (
            '<p><label for="email">メールアドレス / Email</label><br>'
            '<input id="email" name="email" type="email" autocomplete="email" required></p>'
        )
    pay_label = _SUBMIT_LABELS.get(session.submit_type or "", "支払う / Pay")
    return (
        f'<form method="post" action="/pay/{escape(session.id)}">{email}'
        '<p class="note">テストカード 4242 4242 4242 4242 / Test card</p>'
        f'<button type="submit" name="action" value="pay">{pay_label}</button>'
        '<button type="submit" name="action" value="decline" formnovalidate>'
        "カード拒否を試す / Decline</button></form>"
    )


def _money(amount: int, currency: str) -> str:
    return f"¥{amount:,}" if currency == "jpy" else f"{amount:,} {escape(currency.upper())}"


def _session(request: web.Request) -> CheckoutSession | None:
    try:
        session = CheckoutSession._api_retrieve(request.match_info["id"])
    except UserError:
        return None
    session._expire_if_due()
    return session


async def pay_page(request: web.Request) -> web.Response:
    session = _session(request)
    if session is None:
        return web.Response(text="Not found", status=404)
    return _render(session)


async def submit_pay_page(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return web.Response(text="Not found", status=404)
    form = await request.post()
    action = form.get("action")
    if session.status != "open" or action not in ("pay", "decline"):
        return _render(session, status=400 if session.status == "open" else 409)
    if action == "decline":
        session._decline()
        return _render(session, "カードが拒否されました。 / Your card was declined.", status=402)
    email = session.customer_email or str(form.get("email") or "").strip()
    if "@" not in email:
        return _render(session, "メールアドレスを入力してください。 / Enter your email address.", status=400)
    session._pay(email)
    raise web.HTTPSeeOther(session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id))
