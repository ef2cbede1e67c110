"""The schema's enums, shared by every domain's types."""

import strawberry

from models import AppointmentStatus as AppointmentStatusValues
from models import PortalStatus as PortalStatusValues
from models import StaffRole as StaffRoleValues
from resolvers.appointments import AppointmentRange as AppointmentRangeValues

StaffRole = strawberry.enum(StaffRoleValues, name="StaffRole")
PortalStatus = strawberry.enum(PortalStatusValues, name="PortalStatus")
AppointmentStatus = strawberry.enum(AppointmentStatusValues, name="AppointmentStatus")
AppointmentRange = strawberry.enum(
    AppointmentRangeValues,
    name="AppointmentRange",
    description="UPCOMING: not yet ended, soonest first. PAST: ended, newest first.",
)
