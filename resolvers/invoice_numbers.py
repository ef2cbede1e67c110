"""Invoice numbers: INV-0001, INV-0002 … per business, with no gaps and no repeats.

One counter row per business, bumped by an upsert inside the send's own transaction. The
upsert locks the row until that transaction ends, so concurrent sends take numbers one
after another; a send that fails rolls its bump back with everything else it did.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from auth import scopes
from auth.principal import Principal
from db import RequestTransaction

counters = scopes.invoice_counters
PREFIX = "INV-"


def formatted(number: int) -> str:
    return f"{PREFIX}{number:04d}"


async def next_number(tx: RequestTransaction, viewer: Principal) -> str:
    bump = (
        insert(counters)
        .values(business_id=viewer.business_id, last_number=1)
        .on_conflict_do_update(
            index_elements=[counters.c.business_id],
            set_={"last_number": counters.c.last_number + 1},
            where=scopes.invoice_counters_writable_by(viewer),
        )
        .returning(counters.c.last_number)
    )
    return formatted(await tx.scalar(bump))
