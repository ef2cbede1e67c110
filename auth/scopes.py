"""The only home of row rules: what a viewer may read, as query builders.

Every read starts here. A builder returns a SELECT already narrowed to the viewer's business
and, for a customer, to that customer; callers add their own filters on top. With no viewer
the builders select nothing. PostgreSQL's row-level security enforces the same rules again
underneath (migrations/rls.py), so a filter forgotten here still leaks nothing.
"""

from __future__ import annotations

from sqlalchemy import Select, Table, false, select

from auth.principal import Principal
from models import Appointment, AuthSession, Business, Customer, StaffInvitation, StaffMember

businesses: Table = Business.__table__  # type: ignore[assignment]
staff_members: Table = StaffMember.__table__  # type: ignore[assignment]
staff_invitations: Table = StaffInvitation.__table__  # type: ignore[assignment]
customers: Table = Customer.__table__  # type: ignore[assignment]
appointments: Table = Appointment.__table__  # type: ignore[assignment]
sessions: Table = AuthSession.__table__  # type: ignore[assignment]

# What reads return of each table: everything but secrets. Password hashes are read only by
# the sign-in functions (migrations/), so no row a resolver holds can carry one.
_SECRET = {"password_hash", "token_hash"}


def readable(table: Table) -> list:
    return [column for column in table.c if column.name not in _SECRET]


customer_columns = readable(customers)
staff_columns = readable(staff_members)


def _tenant(table: Table, viewer: Principal | None, customer_column: str | None) -> Select:
    query = select(*readable(table))
    if viewer is None:
        return query.where(false())
    key = table.c.id if table is businesses else table.c.business_id
    query = query.where(key == viewer.business_id)
    if viewer.is_customer:
        if customer_column is None:
            return query.where(false())
        query = query.where(table.c[customer_column] == viewer.customer_id)
    return query


def businesses_visible_to(viewer: Principal | None) -> Select:
    query = select(businesses)
    if viewer is None:
        return query.where(false())
    return query.where(businesses.c.id == viewer.business_id)


def staff_visible_to(viewer: Principal | None) -> Select:
    # Customers see the team they talk to (names on messages); rows carry no secrets out,
    # because the schema exposes only name, email and role.
    query = select(*staff_columns)
    if viewer is None:
        return query.where(false())
    return query.where(staff_members.c.business_id == viewer.business_id)


def staff_invitations_visible_to(viewer: Principal | None) -> Select:
    return _tenant(staff_invitations, viewer, customer_column=None)


def customers_visible_to(viewer: Principal | None) -> Select:
    return _tenant(customers, viewer, customer_column="id")


def appointments_visible_to(viewer: Principal | None) -> Select:
    return _tenant(appointments, viewer, customer_column="customer_id")
