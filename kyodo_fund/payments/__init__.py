"""Stripe behind one adapter; the stand-in for tests and local runs.

- ``stripe_gateway`` — the only module that imports ``stripe``: our own dataclasses and exceptions,
  Checkout, subscriptions, refunds, events and webhook verification; ``get_gateway(app_or_config)``.
- ``standin``        — localstripe plus Prices, Checkout Sessions, a pay page and test helpers.
"""
