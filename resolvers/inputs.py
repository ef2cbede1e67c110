"""Checks and normalisation of user input; every failure names its input field."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from errors import BadInput

_LINE_BREAKS = frozenset("\n\r\t")


def _storable(value: str | None, field: str, *, multiline: bool = False) -> str:
    """Control characters have no place in a name or title (a newline in a business name
    would even break its emails' headers); PostgreSQL cannot store NUL at all. Multi-line
    fields keep line breaks and tabs."""
    for character in value or "":
        category = unicodedata.category(character)
        if category == "Cs":  # half of a UTF-16 pair: not text at all
            raise BadInput("The text is not valid Unicode.", field=field)
        if category == "Cc" and not (multiline and character in _LINE_BREAKS):
            raise BadInput("The text contains a control character.", field=field)
    return (value or "").strip()


def lookup_key(value: str | None) -> str:
    """A sign-in field, as compared: trimmed, lower-cased, NUL-free (it can match nothing)."""
    kept = (c for c in value or "" if c != "\x00" and unicodedata.category(c) != "Cs")
    return "".join(kept).strip().lower()


def login_email(value: str | None) -> str:
    """An address as typed at sign-in, normalised as it was when stored."""
    try:
        return email(value)
    except BadInput:
        return lookup_key(value)  # matches no account; fails like any wrong address


def text(value: str | None, field: str, *, max_length: int, label: str) -> str:
    """A required single line of text, trimmed."""
    cleaned = _storable(value, field)
    if not cleaned:
        raise BadInput(f"Enter the {label}.", field=field)
    if len(cleaned) > max_length:
        raise BadInput(f"The {label} can be at most {max_length} characters.", field=field)
    return cleaned


def optional_text(
    value: str | None, field: str, *, max_length: int, label: str, multiline: bool = False
) -> str | None:
    """Optional text, trimmed; blank means none."""
    cleaned = _storable(value, field, multiline=multiline)
    if len(cleaned) > max_length:
        raise BadInput(f"The {label} can be at most {max_length} characters.", field=field)
    return cleaned or None


def email(value: str | None, field: str = "email") -> str:
    """A syntactically valid address, lower-cased (logins compare addresses exactly)."""
    cleaned = _storable(value, field)
    if not cleaned:
        raise BadInput("Enter an email address.", field=field)
    try:
        # No DNS lookups; `.test` addresses are allowed for trial and staging setups.
        result = validate_email(cleaned, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise BadInput("Enter a valid email address.", field=field) from None
    if len(result.normalized) > 254:
        raise BadInput("The email address is too long.", field=field)
    return result.normalized.lower()


def optional_email(value: str | None, field: str = "email") -> str | None:
    if value is None or not value.strip():
        return None
    return email(value, field)


def moment(value: datetime, field: str) -> datetime:
    """A point in time must say which time zone it is in."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadInput(
            "Give the time with its UTC offset (e.g. 2026-05-01T09:00:00Z).", field=field
        )
    return value
