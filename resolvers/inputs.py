"""Checks and normalisation of user input; every failure names its input field."""

from __future__ import annotations

from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from errors import BadInput


def _storable(value: str | None, field: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the driver.
    if value is not None and "\x00" in value:
        raise BadInput("The text contains a character that cannot be stored.", field=field)
    return (value or "").strip()


def lookup_key(value: str | None) -> str:
    """A sign-in field, as compared: trimmed, lower-cased, NUL-free (it can match nothing)."""
    return (value or "").replace("\x00", "").strip().lower()


def text(value: str | None, field: str, *, max_length: int, label: str) -> str:
    """A required piece of text, trimmed."""
    cleaned = _storable(value, field)
    if not cleaned:
        raise BadInput(f"Enter the {label}.", field=field)
    if len(cleaned) > max_length:
        raise BadInput(f"The {label} can be at most {max_length} characters.", field=field)
    return cleaned


def optional_text(value: str | None, field: str, *, max_length: int, label: str) -> str | None:
    """Optional text, trimmed; blank means none."""
    cleaned = _storable(value, field)
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
