"""Routes of the portal's pages and files.

Every page address under `/portal/<slug>/` (and `/team/<slug>/accept-invite`) answers the
same small HTML shell, with the business's name written in by the server (escaped), so the
first paint already says whose portal it is, before anyone signs in. The JavaScript modules
then draw the page the address names. Static files live under `/portal-assets/<version>/`:
the version is a digest of their contents, so they can be cached for good.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from auth import lookups
from db import RequestTransaction
from portal.headers import security_headers

if TYPE_CHECKING:
    from app.services import Services

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
ASSETS_PREFIX = "/portal-assets"
# Slugs are made by registerBusiness from the name: lower-case words and hyphens.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".md": "text/plain; charset=utf-8",
}
# The team's only page in this portal; everything else of a staff console is elsewhere.
TEAM_PAGES = {"accept-invite"}


def assets_version(root: Path = STATIC) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


class Pages:
    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        self.version = assets_version()
        self.assets = f"{ASSETS_PREFIX}/{self.version}"
        self.headers = security_headers(settings)
        self.shell = Template((HERE / "shell.html").read_text())
        self.stripe_key = getattr(settings, "STRIPE_PUBLISHABLE_KEY", None) or ""

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/portal/{slug}", self.portal_root, methods=["GET", "HEAD"]),
            Route("/portal/{slug}/{page:path}", self.portal_page, methods=["GET", "HEAD"]),
            Route("/team/{slug}/{page:path}", self.team_page, methods=["GET", "HEAD"]),
            Route(ASSETS_PREFIX + "/{version}/{path:path}", self.asset, methods=["GET", "HEAD"]),
        ]

    async def portal_root(self, request: Request) -> Response:
        return RedirectResponse(f"/portal/{request.path_params['slug']}/", status_code=308)

    async def portal_page(self, request: Request) -> Response:
        return await self._page(request, "portal")

    async def team_page(self, request: Request) -> Response:
        if request.path_params["page"] not in TEAM_PAGES:
            return self._not_found()
        return await self._page(request, "team")

    async def _page(self, request: Request, area: str) -> Response:
        slug = request.path_params["slug"]
        name = await self._business_name(slug) if SLUG.fullmatch(slug) else None
        if name is None:
            return self._not_found()
        body = self.shell.substitute(
            business=html.escape(name, quote=True),
            slug=html.escape(slug, quote=True),
            area=area,
            assets=self.assets,
            stripe_key=html.escape(self.stripe_key, quote=True),
        )
        # no-store: a page may have been opened with an emailed token in its address.
        return HTMLResponse(body, headers={**self.headers, "Cache-Control": "no-store"})

    async def _business_name(self, slug: str) -> str | None:
        tx = RequestTransaction(self.services.engine)
        try:
            return await lookups.business_name(tx, slug)
        finally:
            await tx.close(commit=False)

    def _not_found(self) -> Response:
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Portal not found</title>"
            f'<link rel="stylesheet" href="{self.assets}/portal.css">'
            '</head><body><main id="main" class="narrow"><h1>Portal not found</h1>'
            "<p>There is no customer portal at this address. Check the link in your email, "
            "or ask the business for a new one.</p></main></body></html>"
        )
        return HTMLResponse(body, status_code=404, headers=self.headers)

    async def asset(self, request: Request) -> Response:
        path = (STATIC / request.path_params["path"]).resolve()
        media_type = CONTENT_TYPES.get(path.suffix)
        if not path.is_relative_to(STATIC) or not path.is_file() or media_type is None:
            return Response("not found", status_code=404, headers=self.headers)
        current = request.path_params["version"] == self.version
        cache = "public, max-age=31536000, immutable" if current else "no-cache"
        return FileResponse(
            path, media_type=media_type, headers={**self.headers, "Cache-Control": cache}
        )


def routes(services: Services) -> list[BaseRoute]:
    """The portal's routes, for the app to mount."""
    return Pages(services).routes()
