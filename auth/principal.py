from __future__ import annotations

import uuid
from dataclasses import dataclass

from models import StaffRole


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a staff member of a business, or one customer of a business."""

    business_id: uuid.UUID
    session_id: uuid.UUID | None
    staff_member_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    role: StaffRole | None = None

    @property
    def is_staff(self) -> bool:
        return self.staff_member_id is not None

    @property
    def is_customer(self) -> bool:
        return self.customer_id is not None

    @property
    def can_manage_team(self) -> bool:
        return self.role in (StaffRole.OWNER, StaffRole.ADMIN)
