"""Row-level security, written once and used by every revision that adds a tenant table.

The scope comes from two transaction-local settings that the server writes at the start of
each request (db.RequestTransaction): `app.business_id` and, for a customer, `app.customer_id`.
Unset settings read as NULL, and NULL matches nothing: with no scope, no rows.

Revisions call these helpers; once a revision using them has been released, keep their
output stable (a change here must not rewrite what a deployed database already ran — add a
new helper, and a revision that moves existing tables over).
"""

from __future__ import annotations

from alembic import op

from db import APP_ROLE  # revisions read it as rls.APP_ROLE

# Owns the few SECURITY DEFINER functions that must look across tenants before a viewer is
# known (sign-in by email, a session token, an emailed token). It may only read.
AUTH_ROLE = "portal_auth"


def create_scope_functions() -> None:
    for name in ("business_id", "customer_id"):
        op.execute(
            f"CREATE FUNCTION app_{name}() RETURNS uuid LANGUAGE sql STABLE AS "
            f"$$ SELECT nullif(current_setting('app.{name}', true), '')::uuid $$"
        )


def create_roles() -> None:
    """The app and auth roles, created when missing (a role is cluster-wide), and granted to
    the migrating owner so it can hand them privileges and functions."""
    op.execute(
        f"""
        DO $$
        DECLARE
          privilege text := CASE WHEN current_setting('server_version_num')::int >= 160000
                                 THEN 'SET' ELSE 'MEMBER' END;
        BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
          END IF;
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{AUTH_ROLE}') THEN
            CREATE ROLE {AUTH_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
          END IF;
          -- A role's creator holds ADMIN on it but (since PostgreSQL 16) may not SET it,
          -- which handing it a function's ownership needs.
          IF NOT pg_has_role(current_user, '{APP_ROLE}', privilege) THEN
            EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
          END IF;
          IF NOT pg_has_role(current_user, '{AUTH_ROLE}', privilege) THEN
            EXECUTE format('GRANT {AUTH_ROLE} TO %I', current_user);
          END IF;
        END
        $$;
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}, {AUTH_ROLE}")


def tenant_table(
    table: str,
    *,
    customer_column: str | None,
    staff_only: bool = False,
    customer_writes: bool = False,
    customer_flag: str | None = None,
) -> None:
    """Force RLS on `table`: the app role reads only the scope's rows, and writes only as
    staff (a business scope without a customer) unless `customer_writes`.

    customer_column: the column holding the customer's id ("id" on customers), so a customer
    sees only their own rows; None where every customer of the business may read them.
    staff_only: a customer sees none of the table.
    customer_writes: a customer may write their own rows too (their sessions, say).
    customer_flag: a boolean column; a customer reads only their rows where it is true
    (job notes the business shares). Without it, the output is as it always was.
    """
    business_column = "id" if table == "businesses" else "business_id"
    condition = f"{business_column} = app_business_id()"
    if staff_only:
        condition += " AND app_customer_id() IS NULL"
    elif customer_column:
        # A CASE, not `IS NULL OR …`: the planner guesses an OR of those to keep ~0.5% of
        # rows, then sorts the whole business instead of walking an index (bench/ measured
        # 1 ms against 0.15 ms for a page of customers).
        shared = f" AND {customer_flag}" if customer_flag else ""
        condition += (
            " AND CASE WHEN app_customer_id() IS NULL THEN true"
            f" ELSE {customer_column} = app_customer_id(){shared} END"
        )
    writable = condition if customer_writes else f"{condition} AND app_customer_id() IS NULL"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_read ON {table} FOR SELECT USING ({condition})")
    op.execute(f"CREATE POLICY tenant_write ON {table} USING ({writable}) WITH CHECK ({writable})")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")


def customer_update(table: str, *, customer_column: str, state: str, columns: list[str]) -> None:
    """Let a customer update their own rows of a `tenant_table` while `state` holds (an SQL
    condition on the row before the change), and change nothing but `columns`: signing
    their own SENT contract, say. A policy narrows the rows (PostgreSQL ORs it with
    `tenant_write`, which refuses customers); a trigger narrows the columns, which a policy
    cannot see."""
    mine = f"business_id = app_business_id() AND {customer_column} = app_customer_id()"
    op.execute(
        f"CREATE POLICY customer_update ON {table} FOR UPDATE "
        f"USING ({mine} AND {state}) WITH CHECK ({mine})"
    )
    kept = " OR ".join(
        f"NEW.{name} IS DISTINCT FROM OLD.{name}" for name in _columns_except(table, columns)
    )
    op.execute(
        f"""
        CREATE FUNCTION {table}_customer_columns() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF app_customer_id() IS NOT NULL AND ({kept or "false"}) THEN
            RAISE EXCEPTION 'a customer may change only {", ".join(columns)} of {table}'
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER customer_columns BEFORE UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_customer_columns()"
    )


def _columns_except(table: str, columns: list[str]) -> list[str]:
    """The table's columns but `columns`, as the database has them now."""
    from sqlalchemy import inspect

    names = [column["name"] for column in inspect(op.get_bind()).get_columns(table)]
    return [name for name in names if name not in columns]


def auth_lookup(table: str, *, update: bool = False) -> None:
    """Let the auth role read every row of `table` (inside its definer functions only)."""
    op.execute(f"GRANT SELECT{', UPDATE' if update else ''} ON {table} TO {AUTH_ROLE}")
    op.execute(f"CREATE POLICY auth_lookup ON {table} FOR SELECT TO {AUTH_ROLE} USING (true)")
    if update:
        op.execute(
            f"CREATE POLICY auth_update ON {table} FOR UPDATE TO {AUTH_ROLE} "
            "USING (true) WITH CHECK (true)"
        )


def definer_function(signature: str, returns: str, body: str) -> None:
    """A SECURITY DEFINER function owned by the auth role, callable only by the app role."""
    op.execute(
        f"""
        CREATE FUNCTION {signature} RETURNS {returns}
        LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
        AS $$ {body} $$
        """
    )
    # A new owner needs CREATE on the schema at the moment of the change, and no longer.
    op.execute(f"GRANT CREATE ON SCHEMA public TO {AUTH_ROLE}")
    op.execute(f"ALTER FUNCTION {signature} OWNER TO {AUTH_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {AUTH_ROLE}")
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")
