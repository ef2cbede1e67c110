"""portal pages: a business's name by its slug, for the pages shown before sign-in

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

from migrations import rls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The name is what the business shows on its own portal's sign-in page: public, like
    # the slug itself. Nothing else of the row is answered.
    rls.definer_function(
        "business_name_by_slug(p_slug text)",
        "text",
        "SELECT name FROM businesses WHERE slug = p_slug",
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS business_name_by_slug(text)")
