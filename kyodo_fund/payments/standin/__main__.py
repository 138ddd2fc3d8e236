"""``python -m kyodo_fund.payments.standin [--port 8420] [--webhook-delay 1.0] [--webhook URL --webhook-secret S]``

``--webhook`` registers the local app's endpoint at start, as a Stripe dashboard would.
"""

import argparse
import logging

from localstripe.webhooks import register_webhook

from kyodo_fund.payments.standin import events, serve

parser = argparse.ArgumentParser(prog="python -m kyodo_fund.payments.standin", description=__doc__)
parser.add_argument("--port", type=int, default=8420)
parser.add_argument("--webhook-delay", type=float, default=events.WEBHOOK_DELAY_SECONDS, help="seconds")
parser.add_argument("--webhook", help="URL of the app's webhook endpoint to register")
parser.add_argument("--webhook-secret", default="whsec_local_standin")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
events.WEBHOOK_DELAY_SECONDS = args.webhook_delay
if args.webhook:
    register_webhook("local-app", args.webhook, args.webhook_secret, None)
serve(args.port)
