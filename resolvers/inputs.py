"""Checks and normalisation of user input; every failure names its input field."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from errors import BadInput

_LINE_BREAKS = frozenset("\n\r\t")
# Embeddings, overrides and isolates reorder how the text around them is shown: "Acme
# \u202egnifooR" reads as "Acme Roofing" (the Trojan Source trick). Refused everywhere.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Zero-width non-joiner and joiner are spelling in Persian, Urdu and the Indic scripts (and
# join emoji sequences): allowed between two visible characters, as IDNA allows them only in
# context (RFC 5892, CONTEXTJ). Every other invisible format character (category Cf:
# zero-width space, word joiner, byte-order mark, soft hyphen, tags…) is refused in a
# single line, where it can only hide a difference between two names that look alike.
_JOINERS = frozenset("\u200c\u200d")


def _storable(value: str | None, field: str, *, multiline: bool = False) -> str:
    """Control characters have no place in a name or title (a newline in a business name
    would even break its emails' headers); PostgreSQL cannot store NUL at all. Multi-line
    fields keep line breaks and tabs. Invisible format characters: see above."""
    content = value or ""
    for index, character in enumerate(content):
        category = unicodedata.category(character)
        if category == "Cs":  # half of a UTF-16 pair: not text at all
            raise BadInput("The text is not valid Unicode.", field=field)
        if category == "Cc" and not (multiline and character in _LINE_BREAKS):
            raise BadInput("The text contains a control character.", field=field)
        if category == "Cf" and (
            character in _BIDI_CONTROLS
            or not (multiline or (character in _JOINERS and _between_visible(content, index)))
        ):
            raise BadInput(
                f"The text contains an invisible formatting character (U+{ord(character):04X}).",
                field=field,
            )
    return content.strip()


def _between_visible(text: str, index: int) -> bool:
    def visible(character: str) -> bool:
        return not character.isspace() and unicodedata.category(character)[0] not in "CZ"

    return 0 < index < len(text) - 1 and visible(text[index - 1]) and visible(text[index + 1])


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


Check = Callable[[Any, str], Any]


def checked(changes: Mapping[str, object], checks: Mapping[str, Check]) -> dict[str, object]:
    """The checked values of the fields present in `changes` (absent ≠ null), each by its
    check, which gets the value and the field's name and raises BadInput."""
    return {name: check(changes[name], name) for name, check in checks.items() if name in changes}


def a_text(*, max_length: int, label: str) -> Check:
    return lambda value, field: text(value, field, max_length=max_length, label=label)


def an_optional_text(*, max_length: int, label: str, multiline: bool = False) -> Check:
    return lambda value, field: optional_text(
        value, field, max_length=max_length, label=label, multiline=multiline
    )


def a_moment(*, required: bool) -> Check:
    """A time; `required`: null is refused (it cannot be removed) rather than kept."""

    def check(value: Any, field: str) -> datetime | None:
        if value is None:
            if required:
                raise BadInput("This time cannot be removed.", field=field)
            return None
        return moment(value, field)

    return check
