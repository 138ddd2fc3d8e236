"""PST donor identities: an integer donor key on each gift, and household units on the identities

Revision ID: f172c0280b91
Revises: ed534c8e9fbd
Create Date: 2026-11-24 12:00:00
"""

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
            "SELECT d.id, p.organisation_id, d.donor_name, d.donor_address, d.donor_household, d.status"
            " FROM donations d JOIN projects p ON p.id = d.project_id WHERE NOT d.anonymous"
        )
    ).all()
    identities = {}
    assigned = []
    labelled = {}
    for donation_id, org_id, name, address, household, status in rows:
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
        if status in KEPT_STATUSES and (label := normalise(household)):
            labelled.setdefault(org_id, set()).add((identities[key], label))
    if assigned:
        conn.execute(sa.text("UPDATE donations SET pst_identity_id = :i WHERE id = :d"), assigned)
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
    op.drop_table("pst_household_labels")
    op.drop_table("pst_donor_identities")
