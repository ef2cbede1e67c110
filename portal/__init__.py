"""The customer portal's own pages, served by this server: plain HTML, CSS and JavaScript
modules (no build step), talking to `/graphql` like any other client.

pages.py     the routes: one HTML shell per page address (the business's name in it),
             and the static files under a versioned prefix
headers.py   the security headers every page and file carries (the Content-Security-Policy)
static/      the shell, the stylesheet, the JavaScript modules and vendored graphql-ws
screenshots.py  `make screenshots`: every page at phone and desktop width
"""

from portal.pages import routes

__all__ = ["routes"]
