"""The words of each email, as plain text and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Letter:
    subject: str
    text: str
    html: str


def _letter(subject: str, paragraphs: list[str], link: str, action: str) -> Letter:
    """The same words twice: plain text with the bare link, and HTML with a button."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    href = escape(link, quote=True)
    html = (
        '<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">'
        f'{body}<p><a href="{href}" style="display:inline-block;padding:10px 18px;'
        f'background:#1f6feb;color:#fff;border-radius:6px;text-decoration:none">{escape(action)}'
        f'</a></p><p style="color:#666;font-size:13px">Or open this link: {href}</p>'
        "</body></html>"
    )
    return Letter(subject=subject, text="\n\n".join([*paragraphs, link]) + "\n", html=html)


def portal_invitation(*, business: str, customer: str, link: str, days: int) -> Letter:
    return _letter(
        f"{business} invited you to your customer portal",
        [
            f"Hello {customer},",
            f"{business} has invited you to their customer portal. There you can follow your "
            "jobs, see and sign documents, pay invoices and message the team.",
            f"Set your password to get started. The link works once and expires in {days} days.",
        ],
        link,
        "Set up my portal",
    )


def password_reset(*, business: str, customer: str, link: str, minutes: int) -> Letter:
    return _letter(
        f"Reset your {business} portal password",
        [
            f"Hello {customer},",
            f"Someone asked to reset the password of your {business} customer portal. If it "
            "was not you, ignore this email: your password stays as it is.",
            f"The link works once and expires in {minutes} minutes.",
        ],
        link,
        "Choose a new password",
    )


def staff_invitation(*, business: str, name: str, inviter: str, link: str, days: int) -> Letter:
    return _letter(
        f"Join {business} on the customer portal",
        [
            f"Hello {name},",
            f"{inviter} invited you to join the {business} team.",
            f"Choose a password to accept. The link works once and expires in {days} days.",
        ],
        link,
        "Join the team",
    )


def staff_password_reset(*, business: str, name: str, link: str, minutes: int) -> Letter:
    return _letter(
        f"Reset your {business} team password",
        [
            f"Hello {name},",
            f"Someone asked to reset the password of your {business} team account. If it was "
            "not you, ignore this email: your password stays as it is.",
            f"The link works once and expires in {minutes} minutes.",
        ],
        link,
        "Choose a new password",
    )


def new_message(*, business: str, customer: str, link: str) -> Letter:
    # The message itself stays in the portal: an email is no place for a private thread.
    return _letter(
        f"{business} sent you a message",
        [
            f"Hello {customer},",
            f"{business} sent you a new message in your customer portal.",
        ],
        link,
        "Read it in the portal",
    )


def contract_sent(*, business: str, customer: str, title: str, link: str) -> Letter:
    return _letter(
        f"{business} sent you a contract to sign: {title}",
        [
            f"Hello {customer},",
            f"{business} sent you “{title}” to read and sign in your customer portal.",
            "Sign in to the portal to read it; you sign it there by typing your name.",
        ],
        link,
        "Read and sign",
    )


def contract_signed(
    *, business: str, recipient: str, signer: str, title: str, when: str, link: str
) -> Letter:
    """`when`: the time of the signature, as written in the signed copy."""
    return _letter(
        f"Signed: {title}",
        [
            f"Hello {recipient},",
            f"{signer} signed “{title}” ({business}) on {when}.",
            "The signed copy is attached as a PDF, with its audit trail on the last page. It "
            "stays in the portal too: open the contract there to download it again.",
        ],
        link,
        "Open the contract",
    )


def invoice_sent(
    *, business: str, customer: str, number: str, amount: str, due: str | None, link: str
) -> Letter:
    return _letter(
        f"Invoice {number} from {business}",
        [
            f"Hello {customer},",
            f"{business} sent you invoice {number} for {amount}"
            + (f", due on {due}." if due else "."),
            "You can see it, and pay it where the business takes payments online, in your "
            "customer portal.",
        ],
        link,
        "View the invoice",
    )
