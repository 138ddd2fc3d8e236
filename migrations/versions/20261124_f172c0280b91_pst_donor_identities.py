"""PST donor identities: an integer donor key on each gift, household units on the identities, year totals

Revision ID: f172c0280b91
Revises: ed534c8e9fbd
Create Date: 2026-11-24 12:00:00
"""

import calendar
import datetime
import functools
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "f172c0280b91"
down_revision = "ed534c8e9fbd"
branch_labels = None
depends_on = None

# Written out here rather than imported from the app, so this migration keeps doing what it did.
KEPT_STATUSES = ("paid", "partially_refunded")


def normalise(text):
    return "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def upgrade():
    op.create_table(
        "pst_donor_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("address_key", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_pst_donor_identities_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pst_donor_identities")),
        sa.UniqueConstraint(
            "organisation_id",
            "name_key",
            "address_key",
            name=op.f("uq_pst_donor_identities_organisation_id_name_key_address_key"),
        ),
    )
    op.create_table(
        "pst_household_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("label_key", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_pst_household_labels_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pst_household_labels")),
        sa.UniqueConstraint(
            "organisation_id", "label_key", name=op.f("uq_pst_household_labels_organisation_id_label_key")
        ),
    )
    op.create_table(
        "pst_identity_years",
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year_end", sa.Date(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("gifts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["pst_donor_identities.id"],
            name=op.f("fk_pst_identity_years_identity_id_pst_donor_identities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_pst_identity_years_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("identity_id", "fiscal_year_end", name=op.f("pk_pst_identity_years")),
    )
    op.create_index(
        "ix_pst_identity_years_organisation_year",
        "pst_identity_years",
        ["organisation_id", "fiscal_year_end"],
        unique=False,
    )
    with op.batch_alter_table("donations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pst_identity_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_donations_pst_identity_id"), ["pst_identity_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_donations_pst_identity_id_pst_donor_identities"),
            "pst_donor_identities",
            ["pst_identity_id"],
            ["id"],
        )
    backfill(op.get_bind())


def backfill(conn):
    """Identities for the existing gifts, then each organisation's household units (as ``identities`` does)."""
    rows = conn.execute(
        sa.text(
            "SELECT d.id, p.organisation_id, d.donor_name, d.donor_address, d.donor_household, d.status,"
            " d.received_on, d.amount_yen - d.refunded_yen, o.fiscal_year_end_month"
            " FROM donations d JOIN projects p ON p.id = d.project_id JOIN organisations o ON o.id = p.organisation_id"
            " WHERE NOT d.anonymous"
        )
    ).all()
    identities = {}
    assigned = []
    labelled = {}
    years = {}
    for donation_id, org_id, name, address, household, status, received_on, net, month in rows:
        name_key, address_key = normalise(name), normalise(address)
        if not (name_key and address_key):
            continue
        key = (org_id, name_key, address_key)
        if key not in identities:
            identities[key] = conn.execute(
                sa.text(
                    "INSERT INTO pst_donor_identities (organisation_id, name_key, address_key)"
                    " VALUES (:o, :n, :a) RETURNING id"
                ),
                {"o": org_id, "n": name_key, "a": address_key},
            ).scalar_one()
        assigned.append({"d": donation_id, "i": identities[key]})
        if status in KEPT_STATUSES and received_on is not None:
            if isinstance(received_on, str):  # SQLite hands dates back as text through sa.text
                received_on = datetime.date.fromisoformat(received_on)
            year = (identities[key], fiscal_year_end(received_on, month or 3))
            total = years.setdefault(year, [org_id, 0, 0])
            total[1] += net
            total[2] += 1
        if status in KEPT_STATUSES and (label := normalise(household)):
            labelled.setdefault(org_id, set()).add((identities[key], label))
    if assigned:
        conn.execute(sa.text("UPDATE donations SET pst_identity_id = :i WHERE id = :d"), assigned)
    if years:
        conn.execute(
            sa.text(
                "INSERT INTO pst_identity_years (identity_id, fiscal_year_end, organisation_id, amount_yen, gifts)"
                " VALUES (:i, :fy, :o, :yen, :n)"
            ),
            [{"i": i, "fy": fy, "o": o, "yen": yen, "n": n} for (i, fy), (o, yen, n) in years.items()],
        )
    for org_id, pairs in labelled.items():
        parent = {}
        find = functools.partial(_find, parent)
        for identity, label in pairs:
            a, b = find(identity), find("h:" + label)
            if a != b:
                parent[b] = a
        representative = {}
        for node in list(parent):
            if isinstance(node, int):
                root = find(node)
                representative[root] = min(representative.get(root, node), node)
        units = [
            {"u": representative[find(node)], "i": node}
            for node in parent
            if isinstance(node, int) and representative[find(node)] != node
        ]
        if units:
            conn.execute(sa.text("UPDATE pst_donor_identities SET unit_id = :u WHERE id = :i"), units)
        labels = [
            {"o": org_id, "l": node[2:], "u": representative[find(node)]}
            for node in parent
            if isinstance(node, str) and find(node) in representative
        ]
        if labels:
            conn.execute(
                sa.text("INSERT INTO pst_household_labels (organisation_id, label_key, unit_id) VALUES (:o, :l, :u)"),
                labels,
            )


def fiscal_year_end(day, month):
    year = day.year if day.month <= month else day.year + 1
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def _find(parent, node):
    parent.setdefault(node, node)
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node


def downgrade():
    with op.batch_alter_table("donations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_donations_pst_identity_id_pst_donor_identities"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_donations_pst_identity_id"))
        batch_op.drop_column("pst_identity_id")
    op.drop_index("ix_pst_identity_years_organisation_year", table_name="pst_identity_years")
    op.drop_table("pst_identity_years")
    op.drop_table("pst_household_labels")
    op.drop_table("pst_donor_identities")
