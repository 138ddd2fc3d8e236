"""PST donor identities and household units, kept up to date on write so the platform PST can judge in SQL.

Every donation of a project gets ``pst_identity_id``: the organisation's ``PstDonorIdentity`` for its normalised
name + address (``pst.normalise``: NFKC, whitespace removed, case-folded — not portable to SQL, hence done here),
or NULL when the gift cannot be attributed (A2: anonymous, no name or no address; or the general fund). One
``after_flush`` hook on every ``Session`` does it for every write path (checkout, offline entry, imports, admin
corrections, subscriptions, demo data): it looks at the flushed ``Donation`` inserts and the updates that change
``donor_name`` / ``donor_address`` / ``anonymous`` / ``project_id``; ``create_app`` installs it. Rows written
around the ORM (COPY, bulk SQL) are picked up by ``reindex`` (``flask pst reindex``).

Year totals: ``PstIdentityYear`` holds each identity's kept gifts (net of refunds) per fiscal year of the
organisation; the hook applies each flushed gift's change as a delta (what it added before, what it adds now), so
the platform PST sums a row per donor and year instead of every gift. A change of the organisation's 決算月
rebuilds its rows (``rebuild_years``), as does ``reindex``.

Household units (A1): a label (``donor_household``) on a kept gift (paid or partly refunded) joins its donor to the
label; a unit is a connected group of donors and labels. ``relink_units`` recomputes that for one organisation from
its DISTINCT (identity, label) pairs and stores each identity's unit (``unit_id``) and each label's unit
(``PstHouseholdLabel``); the hook runs it when a flush touches a label-bearing gift. Decided semantics: units are
linked by every kept gift of the organisation, whatever its date (households are a fact about people), where the
old in-memory check only linked through gifts up to the judging date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, event, func, select, tuple_, update
from sqlalchemy.orm import Session, attributes
from sqlalchemy.orm.attributes import set_committed_value

from kyodo_fund.certification.dates import DEFAULT_FISCAL_YEAR_END_MONTH, fiscal_year_end_for
from kyodo_fund.certification.models import PstDonorIdentity, PstHouseholdLabel, PstIdentityYear
from kyodo_fund.certification.pst import UnionFind, normalise
from kyodo_fund.donations.models import DonationStatus

#: Gifts the organisation keeps: paid, or paid and partly given back (the net amount counts). The PST counts
#: them, their labels link households and the year totals add them up.
KEPT_STATUSES = (DonationStatus.PAID, DonationStatus.PARTIALLY_REFUNDED)
#: Changing one of these can change a gift's identity.
IDENTITY_FIELDS = ("donor_name", "donor_address", "anonymous", "project_id")
#: Changing one of these on a label-bearing gift can change the households.
LINK_FIELDS = (*IDENTITY_FIELDS, "donor_household", "status")
#: Changing one of these can change what a gift adds to its identity's year.
YEAR_FIELDS = (*IDENTITY_FIELDS, "status", "amount_yen", "refunded_yen", "received_on")

_identities = PstDonorIdentity.__table__
_labels = PstHouseholdLabel.__table__
_years = PstIdentityYear.__table__
_CHUNK = 500


def identity_keys(name: str | None, address: str | None, anonymous: bool) -> tuple[str, str] | None:
    """(name key, address key) of an attributable gift, None for an unattributed one (A2)."""
    if anonymous:
        return None
    name_key, address_key = normalise(name), normalise(address)
    return (name_key, address_key) if name_key and address_key else None


def identity_ids(connection: Connection, organisation_id: int, keys: Iterable[tuple[str, str]]) -> dict:
    """Get or create the identities of ``keys`` → {keys: id}. Race-safe: INSERT … ON CONFLICT DO NOTHING, then read
    back what is there (a concurrent transaction's row once it commits; its INSERT waits for it)."""
    wanted = set(keys)
    found = _read_identities(connection, organisation_id, wanted)
    missing = sorted(wanted - found.keys())
    if missing:
        insert = _insert_for(connection)
        rows = [{"organisation_id": organisation_id, "name_key": n, "address_key": a} for n, a in missing]
        for start in range(0, len(missing), _CHUNK):
            stmt = insert(_identities).values(rows[start : start + _CHUNK])
            connection.execute(
                stmt.on_conflict_do_nothing(index_elements=["organisation_id", "name_key", "address_key"])
            )
        found.update(_read_identities(connection, organisation_id, set(missing)))
    return found


def _insert_for(connection: Connection):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


#: From this many keys on, reading all of the organisation's identities at once is cheaper than looking them up.
_READ_ALL_FROM = 1_000


def _read_identities(connection: Connection, organisation_id: int, keys: set[tuple[str, str]]) -> dict:
    # By (name, address) pairs, not by name: common names are shared by thousands of identities, and a lookup by
    # name alone read them all again for every page of a reindex. A page of a reindex holds thousands of keys,
    # where one scan of the organisation's identities beats a long row-value IN list.
    if len(keys) >= _READ_ALL_FROM:
        rows = connection.execute(
            select(_identities.c.name_key, _identities.c.address_key, _identities.c.id).where(
                _identities.c.organisation_id == organisation_id
            )
        )
        return {(n, a): i for n, a, i in rows if (n, a) in keys}
    wanted = sorted(keys)
    found = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = connection.execute(
            select(_identities.c.name_key, _identities.c.address_key, _identities.c.id).where(
                _identities.c.organisation_id == organisation_id,
                tuple_(_identities.c.name_key, _identities.c.address_key).in_(wanted[start : start + _CHUNK]),
            )
        )
        found.update({(n, a): i for n, a, i in rows})
    return found


def _project_organisations(connection: Connection, project_ids: Iterable[int]) -> dict[int, int]:
    from kyodo_fund.projects.models import Project

    ids = sorted(set(project_ids))
    result = {}
    for start in range(0, len(ids), _CHUNK):
        rows = connection.execute(
            select(Project.id, Project.organisation_id).where(Project.id.in_(ids[start : start + _CHUNK]))
        )
        result.update(dict(rows.all()))
    return result


def assign(
    connection: Connection, gifts: list[tuple[int, int | None, str, str, bool, int | None]]
) -> dict[int, int | None]:
    """Identities for (donation id, project id, name, address, anonymous, current identity) rows; UPDATEs the
    donations whose identity changed and returns {donation id: new identity} for those."""
    organisations = _project_organisations(connection, [g[1] for g in gifts if g[1] is not None])
    wanted: dict[int, set[tuple[str, str]]] = {}
    keyed = []
    for donation_id, project_id, name, address, anonymous, current in gifts:
        org_id = organisations.get(project_id) if project_id is not None else None
        keys = identity_keys(name, address, anonymous) if org_id is not None else None
        if keys is not None:
            wanted.setdefault(org_id, set()).add(keys)
        keyed.append((donation_id, org_id, keys, current))
    ids = {org_id: identity_ids(connection, org_id, keys) for org_id, keys in wanted.items()}
    changed = {}
    for donation_id, org_id, keys, current in keyed:
        identity = ids[org_id][keys] if keys is not None else None
        if identity != current:
            changed[donation_id] = identity
    if changed:
        from kyodo_fund.donations.models import Donation

        table = Donation.__table__
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            # Set to itself so the column's onupdate does not stamp the gift as edited by this bookkeeping.
            .values(pst_identity_id=bindparam("b_identity"), updated_at=table.c.updated_at),
            [{"b_id": d, "b_identity": i} for d, i in changed.items()],
        )
    return changed


def relink_units(session_or_connection: Session | Connection, organisation_id: int) -> int:
    """Recompute the organisation's household units from its kept label-bearing gifts; UPDATE only identities
    (and labels) whose unit changed. Returns how many identities changed."""
    from kyodo_fund.donations.models import Donation
    from kyodo_fund.projects.models import Project

    connection = (
        session_or_connection.connection() if isinstance(session_or_connection, Session) else session_or_connection
    )
    pairs = connection.execute(
        select(Donation.pst_identity_id, Donation.donor_household)
        .distinct()
        .join(Project, and_(Project.id == Donation.project_id, Project.organisation_id == organisation_id))
        .where(
            Donation.status.in_(KEPT_STATUSES),
            Donation.pst_identity_id.is_not(None),
            Donation.donor_household != "",
        )
    ).all()
    # Nodes (0, identity) and (1, label): every group holds an identity (labels come from gifts that have one),
    # so its root, the smallest node, is (0, smallest identity), the unit's representative.
    groups = UnionFind()
    for identity, household in pairs:
        if label := normalise(household):
            groups.union((0, identity), (1, label))
    wanted_units: dict[int, int] = {}
    wanted_labels: dict[str, int] = {}
    for kind, key in list(groups.parent):
        _zero, unit = groups.find((kind, key))
        if kind == 1:
            wanted_labels[key] = unit
        elif unit != key:
            wanted_units[key] = unit

    current_units = dict(
        connection.execute(
            select(_identities.c.id, _identities.c.unit_id).where(
                _identities.c.organisation_id == organisation_id, _identities.c.unit_id.is_not(None)
            )
        ).all()
    )
    changes = [
        {"b_id": identity, "b_unit": wanted_units.get(identity)}
        for identity in current_units.keys() | wanted_units.keys()
        if current_units.get(identity) != wanted_units.get(identity)
    ]
    if changes:
        connection.execute(
            update(_identities).where(_identities.c.id == bindparam("b_id")).values(unit_id=bindparam("b_unit")),
            changes,
        )
    current_labels = {
        label: (row_id, unit)
        for row_id, label, unit in connection.execute(
            select(_labels.c.id, _labels.c.label_key, _labels.c.unit_id).where(
                _labels.c.organisation_id == organisation_id
            )
        )
    }
    gone = [row_id for label, (row_id, _u) in current_labels.items() if label not in wanted_labels]
    moved = [
        {"b_id": current_labels[label][0], "b_unit": unit}
        for label, unit in wanted_labels.items()
        if label in current_labels and current_labels[label][1] != unit
    ]
    new = [
        {"organisation_id": organisation_id, "label_key": label, "unit_id": unit}
        for label, unit in wanted_labels.items()
        if label not in current_labels
    ]
    if gone:
        connection.execute(_labels.delete().where(_labels.c.id.in_(gone)))
    if moved:
        connection.execute(
            update(_labels).where(_labels.c.id == bindparam("b_id")).values(unit_id=bindparam("b_unit")), moved
        )
    if new:
        insert = _insert_for(connection)
        connection.execute(
            insert(_labels)
            .values(new)
            .on_conflict_do_update(
                index_elements=["organisation_id", "label_key"], set_={"unit_id": insert(_labels).excluded.unit_id}
            )
        )
    return len(changes)


def reindex(session: Session, organisation_id: int | None = None) -> dict[str, int]:
    """Recompute every gift's identity and every organisation's units (one organisation, or all): for rows written
    around the ORM (COPY, bulk SQL) and as a repair. Streams the gifts; returns counts."""
    from kyodo_fund.donations.models import Donation
    from kyodo_fund.orgs.models import Organisation
    from kyodo_fund.projects.models import Project

    connection = session.connection()
    stmt = select(
        Donation.id,
        Donation.project_id,
        Donation.donor_name,
        Donation.donor_address,
        Donation.anonymous,
        Donation.pst_identity_id,
    ).order_by(Donation.id)
    if organisation_id is not None:
        stmt = stmt.join(Project, Project.id == Donation.project_id).where(Project.organisation_id == organisation_id)
        organisations = [organisation_id]
    else:
        organisations = list(session.scalars(select(Organisation.id).order_by(Organisation.id)))
    changed = seen = 0
    last_id = 0
    while True:
        # Pages by id rather than one open cursor: the UPDATEs go through the same connection.
        batch = [tuple(row) for row in connection.execute(stmt.where(Donation.id > last_id).limit(_REINDEX_PAGE))]
        if not batch:
            break
        changed += len(assign(connection, batch))
        seen += len(batch)
        last_id = batch[-1][0]
    relinked = sum(relink_units(connection, org_id) for org_id in organisations)
    years = sum(rebuild_years(connection, org_id) for org_id in organisations)
    return {"donations": seen, "reassigned": changed, "units_changed": relinked, "year_rows": years}


_REINDEX_PAGE = 20_000


# --- year totals ---------------------------------------------------------------------------------------------------

#: (project id, identity, received on, net yen) of a kept gift with an identity: what it adds to a year.
Contribution = tuple[int, int, date, int]


def contribution(
    project_id: int | None, identity: int | None, status: Any, amount: int, refunded: int, received_on: date | None
) -> Contribution | None:
    if project_id is None or identity is None or received_on is None or status not in KEPT_STATUSES:
        return None
    return project_id, identity, received_on, int(amount) - int(refunded or 0)


def _fiscal_months(connection: Connection, organisation_ids: Iterable[int]) -> dict[int, int]:
    from kyodo_fund.orgs.models import Organisation

    ids = sorted(set(organisation_ids))
    months: dict[int, int] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = connection.execute(
            select(Organisation.id, Organisation.fiscal_year_end_month).where(
                Organisation.id.in_(ids[start : start + _CHUNK])
            )
        )
        months.update({org_id: month or DEFAULT_FISCAL_YEAR_END_MONTH for org_id, month in rows})
    return months


def apply_year_changes(connection: Connection, changes: list[tuple[Contribution | None, Contribution | None]]) -> None:
    """Apply (before, after) contributions of changed gifts to the year totals: one upsert adding the deltas."""
    changes = [(old, new) for old, new in changes if old != new]
    if not changes:
        return
    projects = _project_organisations(connection, [c[0] for pair in changes for c in pair if c is not None])
    months = _fiscal_months(connection, projects.values())
    deltas: dict[tuple[int, int, date], list[int]] = defaultdict(lambda: [0, 0])
    for old, new in changes:
        for sign, item in ((-1, old), (1, new)):
            if item is None or item[0] not in projects:
                continue
            project_id, identity, received_on, yen = item
            org_id = projects[project_id]
            delta = deltas[org_id, identity, fiscal_year_end_for(received_on, months[org_id])]
            delta[0] += sign * yen
            delta[1] += sign
    rows = [
        {"organisation_id": o, "identity_id": i, "fiscal_year_end": fy, "amount_yen": yen, "gifts": n}
        for (o, i, fy), (yen, n) in deltas.items()
        if yen or n
    ]
    insert = _insert_for(connection)
    for start in range(0, len(rows), _CHUNK):
        stmt = insert(_years).values(rows[start : start + _CHUNK])
        connection.execute(
            stmt.on_conflict_do_update(
                index_elements=["identity_id", "fiscal_year_end"],
                set_={
                    "amount_yen": _years.c.amount_yen + stmt.excluded.amount_yen,
                    "gifts": _years.c.gifts + stmt.excluded.gifts,
                },
            )
        )
    emptied = sorted({row["identity_id"] for row in rows if row["gifts"] < 0})
    for start in range(0, len(emptied), _CHUNK):
        connection.execute(
            delete(_years).where(_years.c.identity_id.in_(emptied[start : start + _CHUNK]), _years.c.gifts <= 0)
        )


def rebuild_years(connection: Connection, organisation_id: int) -> int:
    """Recompute the organisation's year totals from its gifts (after a change of 決算月, or a repair)."""
    from kyodo_fund.donations.models import Donation
    from kyodo_fund.projects.models import Project

    month = _fiscal_months(connection, [organisation_id]).get(organisation_id, DEFAULT_FISCAL_YEAR_END_MONTH)
    connection.execute(delete(_years).where(_years.c.organisation_id == organisation_id))
    per_day = connection.execute(
        select(
            Donation.pst_identity_id,
            Donation.received_on,
            func.sum(Donation.amount_yen - Donation.refunded_yen),
            func.count(),
        )
        .join(Project, and_(Project.id == Donation.project_id, Project.organisation_id == organisation_id))
        .where(
            Donation.status.in_(KEPT_STATUSES),
            Donation.pst_identity_id.is_not(None),
            Donation.received_on.is_not(None),
        )
        .group_by(Donation.pst_identity_id, Donation.received_on)
    )
    totals: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    for identity, received_on, yen, count in per_day:
        total = totals[identity, fiscal_year_end_for(received_on, month)]
        total[0] += int(yen)
        total[1] += int(count)
    rows = [
        {"organisation_id": organisation_id, "identity_id": i, "fiscal_year_end": fy, "amount_yen": yen, "gifts": n}
        for (i, fy), (yen, n) in totals.items()
    ]
    for start in range(0, len(rows), 5_000):
        connection.execute(_years.insert(), rows[start : start + 5_000])
    return len(rows)


# --- the flush hook ------------------------------------------------------------------------------------------------


def _history_changed(state: Any, field: str) -> bool:
    return state.attrs[field].history.has_changes()


def _old_value(state: Any, field: str) -> Any:
    history = state.attrs[field].history
    return history.deleted[0] if history.deleted else getattr(state.obj(), field)


def _before(state: Any, obj: Any, field: str) -> Any:
    """The committed value of ``field`` before this flush's change (the current one when unchanged)."""
    history = state.attrs[field].history
    return history.deleted[0] if history.deleted else getattr(obj, field)


def _gift_contribution(obj: Any, *, identity: int | None = None, state: Any = None) -> Contribution | None:
    """What ``obj`` adds to a year now, or (with ``state``) before this flush, with the identity it had then."""
    if state is None:
        values = [getattr(obj, f) for f in ("project_id", "status", "amount_yen", "refunded_yen", "received_on")]
        identity = obj.pst_identity_id
    else:
        values = [_before(state, obj, f) for f in ("project_id", "status", "amount_yen", "refunded_yen", "received_on")]
    project_id, status, amount, refunded, received_on = values
    return contribution(project_id, identity, status, amount, refunded, received_on)


def register_flush_hook() -> None:
    """Install the hook on every ``Session`` (``create_app`` calls this; installing it twice is a no-op)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def _after_flush(session: Session, _flush_context: Any) -> None:
    from kyodo_fund.donations.models import Donation
    from kyodo_fund.orgs.models import Organisation

    touched: list[Donation] = []
    relink_projects: set[int] = set()
    #: Gifts whose year contribution may change: (gift, its state, its identity before this flush) or, for a new
    #: gift, (gift, None, None).
    counted: list[tuple[Donation, Any, int | None]] = []
    removed: list[Contribution | None] = []
    new_fiscal_year: list[int] = []
    for obj in session.new:
        if isinstance(obj, Donation):
            touched.append(obj)
            counted.append((obj, None, None))
            if str(obj.donor_household or "").strip() and obj.status in KEPT_STATUSES:
                relink_projects.add(obj.project_id)
    for obj in session.dirty:
        if isinstance(obj, Organisation):
            if attributes.instance_state(obj).attrs["fiscal_year_end_month"].history.has_changes():
                new_fiscal_year.append(obj.id)
            continue
        if not isinstance(obj, Donation):
            continue
        state = attributes.instance_state(obj)
        if any(_history_changed(state, f) for f in IDENTITY_FIELDS):
            touched.append(obj)
        if any(_history_changed(state, f) for f in YEAR_FIELDS):
            counted.append((obj, state, obj.pst_identity_id))
        if any(_history_changed(state, f) for f in LINK_FIELDS) and (
            str(obj.donor_household or "").strip() or str(_old_value(state, "donor_household") or "").strip()
        ):
            relink_projects.update({obj.project_id, _old_value(state, "project_id")})
    for obj in session.deleted:
        if isinstance(obj, Donation):
            # What it added as last committed (a gift changed and deleted in one flush is rare, but possible).
            removed.append(_gift_contribution(obj, identity=obj.pst_identity_id, state=attributes.instance_state(obj)))
            if str(obj.donor_household or "").strip():
                relink_projects.add(obj.project_id)
    if not (touched or relink_projects or counted or removed or new_fiscal_year):
        return
    connection = session.connection()
    if touched:
        gifts = [
            (d.id, d.project_id, d.donor_name, d.donor_address, bool(d.anonymous), d.pst_identity_id) for d in touched
        ]
        changed = assign(connection, gifts)
        for donation in touched:
            if donation.id in changed:
                set_committed_value(donation, "pst_identity_id", changed[donation.id])
                if str(donation.donor_household or "").strip():
                    relink_projects.add(donation.project_id)
    # Before: what the gift added as committed (nothing for a new one); after: what it adds now, with the identity
    # assigned above.
    changes = [
        (None if state is None else _gift_contribution(obj, identity=before, state=state), _gift_contribution(obj))
        for obj, state, before in counted
    ]
    changes += [(old, None) for old in removed]
    apply_year_changes(connection, changes)
    for org_id in new_fiscal_year:
        rebuild_years(connection, org_id)
    relink_projects.discard(None)
    for org_id in sorted(set(_project_organisations(connection, relink_projects).values())):
        relink_units(connection, org_id)
