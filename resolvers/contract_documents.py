"""A contract as a document: its canonical bytes and their hash, its Markdown as safe HTML,
and the signed copy as a PDF. Pure functions, no I/O: the resolvers call them (the PDF off
the event loop, it is CPU work).

Canonical bytes, what `documentSha256` hashes: the UTF-8 encoding of the title, two line
feeds, and the body, exactly as stored and returned by the API (inputs normalise line
breaks to a line feed and trim the ends; nothing else changes). The title is a single line,
so the split is unambiguous:

    printf '%s\\n\\n%s' "$title" "$body" | sha256sum
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nh3
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TextStyle
from markdown_it import MarkdownIt


def canonical_bytes(title: str, body: str) -> bytes:
    return f"{title}\n\n{body}".encode()


def document_sha256(title: str, body: str) -> str:
    return hashlib.sha256(canonical_bytes(title, body)).hexdigest()


# -- Markdown ---------------------------------------------------------------------------------

# CommonMark with raw HTML off: `<script>` in a body is text, never a tag. markdown-it also
# refuses javascript:, vbscript:, file: and data: links; nh3 (ammonia) then keeps only the
# tags and attributes below, whatever the renderer produced.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
_TAGS = {
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code"),
    *("em", "strong", "s", "del", "ul", "ol", "li", "a"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
_SCHEMES = {"http", "https", "mailto"}


@functools.lru_cache(maxsize=256)
def body_html(body: str) -> str:
    """The body's Markdown as HTML a client may put on a page as it is."""
    return nh3.clean(
        _MARKDOWN.render(body),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


# -- the signed copy --------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedCopy:
    """Everything the PDF says, as recorded with the signature."""

    contract_id: str  # the global id clients know it by
    title: str
    body: str
    business: str
    customer: str
    customer_email: str | None
    document_sha256: str
    sent_at: datetime
    signer_name: str
    signer_email: str
    signed_at: datetime
    ip_address: str
    user_agent: str | None


def _font_dir() -> Path:
    """DejaVu, committed beside this module (resolvers/contract_fonts, with its licence): the
    same files on every machine, whatever fonts the OS has. DejaVu draws Latin, Greek,
    Cyrillic, Armenian, Georgian, Hebrew and much more; scripts it lacks (CJK, say) show as
    blanks, and the exact text is attached to the PDF anyway (see `signed_pdf`)."""
    return Path(__file__).resolve().parent / "contract_fonts"


_FONTS = {
    ("DejaVu", ""): "DejaVuSans.ttf",
    ("DejaVu", "B"): "DejaVuSans-Bold.ttf",
    ("DejaVu", "I"): "DejaVuSans-Oblique.ttf",
    ("DejaVu", "BI"): "DejaVuSans-BoldOblique.ttf",
    ("DejaVuMono", ""): "DejaVuSansMono.ttf",
    ("DejaVuMono", "B"): "DejaVuSansMono-Bold.ttf",
    ("DejaVuMono", "I"): "DejaVuSansMono-Oblique.ttf",
    ("DejaVuMono", "BI"): "DejaVuSansMono-BoldOblique.ttf",
    ("Signature", ""): "DejaVuSerif-Italic.ttf",
}
# What write_html may draw of the body: the HTML above without links (plain text in print).
_PDF_TAGS = _TAGS - {"a"}
_MONO = TextStyle(font_family="DejaVuMono", font_size_pt=9)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class _Document(FPDF):
    def __init__(self, copy: SignedCopy) -> None:
        super().__init__(format="A4")
        self._copy = copy
        folder = _font_dir()
        for (family, style), file in _FONTS.items():
            self.add_font(family, style, folder / file)
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_title(copy.title)
        self.set_author(copy.business)
        self.set_creator("Customer portal")
        # The signature's own time, so the same signature always makes the same file.
        self.set_creation_date(copy.signed_at)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("DejaVu", size=8)
        self.set_text_color(110)
        self.cell(
            0,
            5,
            f"{self._copy.contract_id} · SHA-256 {self._copy.document_sha256[:16]}…  "
            f"· page {self.page_no()}/{{nb}}",
            align="C",
        )
        self.set_text_color(0)

    def line_of(self, text: str, *, size: float = 10, style: str = "", family: str = "DejaVu"):
        self.set_font(family, style, size)
        self.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def signed_pdf(copy: SignedCopy) -> bytes:
    """The contract, its signature block, and a certificate page with the audit trail. The
    canonical bytes are attached as `contract.txt`: their SHA-256 is `documentSha256`."""
    pdf = _Document(copy)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.line_of(copy.business, size=10, style="B")
    pdf.line_of(f"For {copy.customer}", size=10)
    pdf.ln(4)
    pdf.line_of(copy.title, size=18, style="B")
    pdf.ln(3)
    pdf.set_font("DejaVu", size=11)
    html = nh3.clean(_MARKDOWN.render(copy.body), tags=_PDF_TAGS, attributes=_ATTRIBUTES)
    pdf.write_html(
        html,
        font_family="DejaVu",
        warn_on_tags_not_matching=False,
        tag_styles={"code": _MONO, "pre": _MONO},
    )
    _signature_block(pdf, copy)
    _certificate(pdf, copy)
    pdf.embed_file(
        bytes=canonical_bytes(copy.title, copy.body),
        basename="contract.txt",
        modification_date=copy.sent_at,
        mime_type="text/plain",
        desc="The document as sent and signed: its SHA-256 is the document hash.",
    )
    return bytes(pdf.output())


def _signature_block(pdf: _Document, copy: SignedCopy) -> None:
    if pdf.get_y() > pdf.h - 80:
        pdf.add_page()
    pdf.ln(10)
    pdf.line_of("Signed electronically", size=9, style="B")
    pdf.ln(2)
    pdf.set_font("Signature", size=26)
    pdf.multi_cell(0, 13, copy.signer_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = pdf.get_y()
    pdf.line(pdf.l_margin, y, pdf.l_margin + 100, y)
    pdf.ln(2)
    pdf.line_of(f"Name: {copy.signer_name}", size=10)
    pdf.line_of(f"Date: {utc_text(copy.signed_at)}", size=10)
    pdf.line_of(
        f"{copy.signer_name} typed their name and agreed to sign this document in the "
        f"{copy.business} customer portal. The audit trail is on the last page.",
        size=8,
    )


def _certificate(pdf: _Document, copy: SignedCopy) -> None:
    pdf.add_page()
    pdf.line_of("Certificate of signature", size=16, style="B")
    pdf.ln(4)
    customer = copy.customer + (f" <{copy.customer_email}>" if copy.customer_email else "")
    rows = [
        ("Contract", copy.contract_id),
        ("Title", copy.title),
        ("Business", copy.business),
        ("Customer", customer),
        ("Document SHA-256", copy.document_sha256),
        ("Sent (UTC)", utc_text(copy.sent_at)),
        ("Signed (UTC)", utc_text(copy.signed_at)),
        ("Signer name", copy.signer_name),
        ("Signer account", copy.signer_email),
        ("IP address", copy.ip_address),
        ("User agent", copy.user_agent or "(none sent)"),
    ]
    mono = {"Contract", "Document SHA-256", "IP address"}
    for label, value in rows:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(40, 5.5, label)
        if label in mono:
            pdf.set_font("DejaVuMono", "", 8.5)
        else:
            pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(0, 5.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    pdf.ln(4)
    pdf.line_of(
        "The document hash is the SHA-256 of the contract's canonical bytes: the UTF-8 "
        "encoding of its title, two line feeds, and its body, exactly as sent. Those bytes "
        "are attached to this PDF as contract.txt. The contract was frozen when it was sent; "
        "the signer signed that hash. Times are UTC; the IP address is the one the portal "
        "saw (behind its configured proxy, from X-Forwarded-For).",
        size=8,
    )
