"""Prices for the stand-in (localstripe has legacy Plans only), and the parameter checks Checkout shares.

A recurring price is mirrored as a localstripe Plan with the same id, so localstripe's
subscriptions can bill it. localstripe exports every public attribute and property as a JSON
field, hence the underscore-prefixed helpers.
"""

from __future__ import annotations

import re

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Plan, Product, StripeObject, try_convert_to_bool, try_convert_to_int
from localstripe.server import get_post_data, json_response, unflatten_data

from kyodo_fund.payments.standin.events import emit, newest_first

INTERVALS = ("day", "week", "month", "year")


def bad(param: str, message: str | None = None) -> UserError:
    return UserError(400, message or f"Invalid {param}", {"param": param})


def unexpected(params: dict) -> None:
    if params:
        raise UserError(400, "Unexpected " + ", ".join(params))


def checked_metadata(value, param: str = "metadata") -> dict:
    if value is None or value == "":
        return {}
    ok = isinstance(value, dict) and len(value) <= 50
    ok = ok and all(
        isinstance(k, str) and len(k) <= 40 and isinstance(v, str) and len(v) <= 500 for k, v in value.items()
    )
    if not ok:
        raise bad(param)
    return dict(value)


def checked_url(value, param: str, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not re.match(r"^https?://", value):
        raise bad(param, f"Not a valid URL: {param}")
    return value


class Price(StripeObject):
    object = "price"
    _id_prefix = "price_"

    def __init__(
        self,
        currency=None,
        unit_amount=None,
        product=None,
        product_data=None,
        recurring=None,
        metadata=None,
        nickname=None,
        active=True,
        **kwargs,
    ):
        params = Price._checked(
            currency=currency,
            unit_amount=unit_amount,
            product=product,
            product_data=product_data,
            recurring=recurring,
            **kwargs,
        )
        metadata = checked_metadata(metadata)
        active = try_convert_to_bool(active)
        if not isinstance(active, bool) or not (nickname is None or isinstance(nickname, str)):
            raise bad("active" if not isinstance(active, bool) else "nickname")
        if product is None:
            product = Product(name=product_data["name"], description=product_data.get("description")).id
        super().__init__()
        self.active = active
        self.billing_scheme = "per_unit"
        self.currency = currency
        self.lookup_key = None
        self.metadata = metadata
        self.nickname = nickname
        self.product = product
        self.recurring = params["recurring"]
        self.tax_behavior = "unspecified"
        self.type = "one_time" if self.recurring is None else "recurring"
        self.unit_amount = params["unit_amount"]
        self.unit_amount_decimal = str(self.unit_amount)
        if self.recurring is not None:
            # localstripe's Subscriptions run on legacy Plans: mirror the price as a Plan with its id.
            Plan(
                id=self.id,
                amount=self.unit_amount,
                currency=currency,
                interval=self.recurring["interval"],
                interval_count=self.recurring["interval_count"],
                product=product,
                nickname=nickname,
            )
        emit("price.created", self)

    @staticmethod
    def _checked(currency=None, unit_amount=None, product=None, product_data=None, recurring=None, **kwargs) -> dict:
        """Validate price parameters without creating anything (also used for ``price_data``)."""
        unexpected(kwargs)
        unit_amount = try_convert_to_int(unit_amount)
        if not isinstance(currency, str) or not re.fullmatch(r"[a-z]{3}", currency):
            raise bad("currency")
        if not isinstance(unit_amount, int) or unit_amount < 0:
            raise bad("unit_amount")
        if (product is None) == (product_data is None):
            raise bad("product", "Exactly one of product and product_data is required")
        if product is not None:
            Product._api_retrieve(product)  # 404 when unknown
        elif not (
            isinstance(product_data, dict)
            and set(product_data) <= {"name", "description"}
            and isinstance(product_data.get("name"), str)
            and product_data["name"]
        ):
            raise bad("product_data[name]")
        if recurring is not None:
            if not isinstance(recurring, dict) or not set(recurring) <= {"interval", "interval_count"}:
                raise bad("recurring")
            count = try_convert_to_int(recurring.get("interval_count", 1))
            if recurring.get("interval") not in INTERVALS or not isinstance(count, int) or count < 1:
                raise bad("recurring[interval]")
            recurring = {
                "interval": recurring["interval"],
                "interval_count": count,
                "usage_type": "licensed",
                "meter": None,
                "trial_period_days": None,
            }
        return {"unit_amount": unit_amount, "recurring": recurring}

    @classmethod
    def _api_list_all(cls, url, active=None, product=None, type=None, limit=None, starting_after=None, **kwargs):
        unexpected(kwargs)
        listing = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        active = try_convert_to_bool(active)
        listing._list = newest_first(
            [
                p
                for p in listing._list
                if (active is None or p.active == active)
                and (product is None or p.product == product)
                and (type is None or p.type == type)
            ]
        )
        return listing


# --- routes ------------------------------------------------------------------------------------
async def create_price(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    expand = data.pop("expand", None)
    return json_response(Price(**data)._export(expand=expand))


async def retrieve_price(request: web.Request) -> web.Response:
    return json_response(Price._api_retrieve(request.match_info["id"])._export())


async def list_prices(request: web.Request) -> web.Response:
    query = unflatten_data(request.query)
    expand = query.pop("expand", None)
    return json_response(Price._api_list_all(request.path, **query)._export(expand=expand))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/prices", create_price)
    app.router.add_get("/v1/prices", list_prices)
    app.router.add_get("/v1/prices/{id}", retrieve_price)
