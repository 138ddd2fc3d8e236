"""Posting to the ledger and reading it; import everything from here. Every function takes a Session and
only flushes. ``posting`` (``post_group``, the errors), ``gifts`` (donations, refunds, disputes),
``grants`` and ``balances`` hold the code.

Worked example (the chart of accounts is in ``kyodo_fund.ledger.models``): a ¥10,000 card gift to
project 7, Stripe's fee ¥360, ``PLATFORM_FEE_PCT`` 10::

    donation            stripe:clearing   +10,000   gross received (the receipt shows this)
                        fees:processor       +360   Stripe's actual fee ...
                        stripe:clearing      −360   ... which Stripe keeps back (clearing nets 9,640)
                        fees:platform      −1,000   floor(10 % × 10,000); the fund's revenue, covers the 360
                        fund:project:7     −9,000   project_balance(7) == 9,000 grantable

Refunds (payments.md RF2/RF3). For a gift of gross ``G`` whose fund share is ``net``, with cumulative
refunded-or-disputed gross ``R``, the project has given back ``floor(net × R / G)`` (computed on
the cumulative total, so the deltas always add up exactly; the rounding yen go against the fund),
the platform fee gives back the rest of each delta, and Stripe's fee is not refunded: its share
``floor(fee × R / G)`` moves from ``fees:processor`` to ``refunds:loss`` (``REFUND_FEE_BORNE_BY``
= "fund"). A project that was already granted the money gives back only what it still holds; the
fund bears the shortfall in ``refunds:loss``, so no fund balance ever goes negative.
``amount_refunded`` 0 → 3,000 → 10,000::

    refund 3,000        stripe:clearing −3,000; fund:project:7 +2,700; fees:platform +300;
                        fees:processor −108; refunds:loss +108
    refund 7,000        stripe:clearing −7,000; fund:project:7 +6,300; fees:platform +700;
                        fees:processor −252; refunds:loss +252
    afterwards          project 0, fees:platform 0, fees:processor 0, refunds:loss 360,
                        stripe:clearing −360 (the kept fee came out of the fund's other money)

Disputes (payments.md DS1–DS3). The hold splits the disputed amount like a refund, but into
``disputes:held`` instead of back to the donor, so the money can be neither granted nor refunded
while the dispute is open (one dispute per gift). Stripe's withdrawal is booked only when the
dispute is lost, so while it is open ``stripe:clearing`` runs ahead of Stripe's balance by exactly
the held amount (plus the dispute fee); reconciliation must allow for that. ¥10,000 on that gift,
dispute fee ¥1,500::

    hold                fund:project:7 +9,000; fees:platform +1,000; disputes:held −10,000
    release (won)       the hold's lines negated: everything is as before the dispute (plus
                        fees:dispute / stripe:clearing lines if Stripe kept its fee anyway)
    reverse (lost)      disputes:held +10,000; stripe:clearing −10,000; fees:processor −360;
                        refunds:loss +360; fees:dispute +1,500; stripe:clearing −1,500

A gift received by bank transfer (``received_into=BANK_DEPOSITS``, no processor fee) books the same
way with ``bank:deposits`` in place of ``stripe:clearing``; its refunds leave from ``bank:deposits``.

Grant of ¥9,000 from project 7 to organisation 3: fund:project:7 +9,000; grants:paid:3 −9,000.
"""

from kyodo_fund.ledger.models import BANK_DEPOSITS, STRIPE_CLEARING, UnknownAccount, account_spec, fund_key, grants_key
from kyodo_fund.ledger.services.balances import (
    StatementLine,
    balance,
    balances,
    natural_balance,
    project_balance,
    project_statement,
)
from kyodo_fund.ledger.services.gifts import (
    post_dispute_hold,
    post_dispute_release,
    post_dispute_reverse,
    post_donation,
    post_refund,
    refunded_yen,
)
from kyodo_fund.ledger.services.grants import GrantLine, org_grants, post_grant
from kyodo_fund.ledger.services.posting import (
    DisputeAlreadyClosed,
    DisputeNotFound,
    DisputeOpen,
    DonationNotPosted,
    ExceedsRemaining,
    InsufficientBalance,
    LedgerError,
    UnbalancedGroup,
    post_group,
)

__all__ = [
    "BANK_DEPOSITS",
    "STRIPE_CLEARING",
    "DisputeAlreadyClosed",
    "DisputeNotFound",
    "DisputeOpen",
    "DonationNotPosted",
    "ExceedsRemaining",
    "GrantLine",
    "InsufficientBalance",
    "LedgerError",
    "StatementLine",
    "UnbalancedGroup",
    "UnknownAccount",
    "account_spec",
    "balance",
    "balances",
    "fund_key",
    "grants_key",
    "natural_balance",
    "org_grants",
    "post_dispute_hold",
    "post_dispute_release",
    "post_dispute_reverse",
    "post_donation",
    "post_grant",
    "post_group",
    "post_refund",
    "project_balance",
    "project_statement",
    "refunded_yen",
]
