"""Webhook endpoints: verify, record the event once, dispatch by event type to resolvers.

stripe_endpoint.py  POST /webhooks/stripe: signature, replay, account and mode checks
stripe_events.py    one handler per Stripe event type, in a dict keyed by the type
"""

from webhooks.stripe_endpoint import routes

__all__ = ["routes"]
