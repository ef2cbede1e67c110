"""The adapter to Stripe: payments/stripe_api.py is the only module that imports `stripe`."""

from payments.stripe_api import (
    InvalidSignature,
    PaymentIntent,
    StripeApi,
    create_stripe,
    verify_event,
)

__all__ = ["InvalidSignature", "PaymentIntent", "StripeApi", "create_stripe", "verify_event"]
