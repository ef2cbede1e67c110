"""The headers every portal page and file carries.

The policy is what keeps user content inert even if a page forgot itself: scripts only from
this origin and Stripe, no inline script or style, no plugins, no framing, no base-URI tricks;
and no referrer, so an emailed token in a page's address is never sent anywhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from config import Settings

STRIPE_JS = "https://js.stripe.com"


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(settings: Settings) -> str:
    # Photos and signed documents come from this origin (local storage, under PUBLIC_URL) or
    # from the S3 endpoint. A WebSocket to this host is covered by 'self' (CSP level 3).
    images = ["'self'", "data:", "blob:", "https://*.stripe.com"]
    for origin in (_origin(settings.public_url), _origin(settings.S3_ENDPOINT_URL)):
        if origin and origin not in images:
            images.append(origin)
    if settings.S3_BUCKET and not settings.S3_ENDPOINT_URL:
        images.append("https://*.amazonaws.com")
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'", STRIPE_JS],
        "style-src": ["'self'"],
        "img-src": images,
        "font-src": ["'self'"],
        "connect-src": ["'self'", "https://api.stripe.com"],
        "frame-src": [STRIPE_JS, "https://hooks.stripe.com"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def security_headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), usb=()",
    }
