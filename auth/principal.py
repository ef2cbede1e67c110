from __future__ import annotations

import uuid
from dataclasses import dataclass

from models import StaffRole


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a staff member of a business, one customer of a business, or the
    server itself doing one job for a business before anyone of it is signed in."""

    business_id: uuid.UUID
    session_id: uuid.UUID | None
    staff_member_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    role: StaffRole | None = None
    # Set only on the server's own principal (`system`): the job it is doing, for logs
    # and for whoever reads the code.
    system_job: str | None = None

    @classmethod
    def system(cls, business_id: uuid.UUID, job: str) -> Principal:
        """The server working for a business with no one of it signed in: redeeming an
        emailed link, say. Scopes give it the business's rows for that one job; it is
        neither staff nor a customer and has no session."""
        return cls(business_id=business_id, session_id=None, system_job=job)

    @property
    def is_system(self) -> bool:
        return self.system_job is not None

    @property
    def is_staff(self) -> bool:
        return self.staff_member_id is not None and not self.is_system

    @property
    def is_customer(self) -> bool:
        return self.customer_id is not None and not self.is_system

    @property
    def can_manage_team(self) -> bool:
        return self.is_staff and self.role in (StaffRole.OWNER, StaffRole.ADMIN)
