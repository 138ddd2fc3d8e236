"""``ReceiptSnapshot.to_dict`` stores exactly what the general field-by-field encoder stored.

The reference below is that encoder as it was before each class got a compiled one; what is stored in
``receipts.snapshot`` must not change by a byte (the PDF re-renders from it, and a reissue prints the same), so the
JSON is compared both as stored (keys in field order) and sorted.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kyodo_fund.receipts.snapshot import (
    SCHEMA_VERSION,
    Designation,
    DocumentKind,
    DonorSnapshot,
    IssuerSnapshot,
    ReceiptFlags,
    ReceiptLine,
    ReceiptSnapshot,
    _encoder,
)
from kyodo_fund.tax.kinds import IssuerKind


def reference(value: Any) -> Any:
    """The general encoder ``to_dict`` used to run on every value."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: reference(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, dict):
        return {k: reference(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [reference(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def typed(value: Any) -> Any:
    """``value`` with the type of every leaf next to it: a StrEnum equals its value and dumps as it, but is not it."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value), value)


def assert_encodes_as_before(snapshot: ReceiptSnapshot) -> dict[str, Any]:
    data = snapshot.to_dict()
    expected = {"version": SCHEMA_VERSION, **reference(snapshot)}
    assert typed(data) == typed(expected)
    # As SQLAlchemy writes the JSON column (default json.dumps, keys in insertion order), and as ``to_json`` does.
    assert json.dumps(data) == json.dumps(expected)
    assert json.dumps(data, ensure_ascii=False, sort_keys=True) == json.dumps(
        expected, ensure_ascii=False, sort_keys=True
    )
    return data


texts = st.text(alphabet=st.sampled_from("長野県松本市寄附太郎 -<&>\"'\\\n0Aé"), max_size=12)
dates = st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31))

issuers = st.builds(
    IssuerSnapshot,
    kind=st.sampled_from(IssuerKind),
    name=texts,
    address=texts,
    representative=texts,
    certification_number=texts,
    certified_on=dates,
    certification_expires_on=dates,
    certifying_authority=texts,
    provisional=st.booleans(),
    designations=st.lists(st.builds(Designation, body=texts, effective_on=dates), max_size=3).map(tuple),
    tax_credit_cert_number=texts,
    tax_credit_cert_on=dates,
    tax_credit_cert_authority=texts,
    main_purpose=texts,
)
lines = st.builds(
    ReceiptLine,
    received_on=dates,
    amount_yen=st.integers(min_value=-1, max_value=10**9),
    purpose=texts,
    activity=st.sampled_from(["", "まちづくりの推進を図る活動", "環境の保全を図る活動"]),
)
snapshots = st.builds(
    ReceiptSnapshot,
    number=st.sampled_from(["R-2026-000123", "S-2026-000001", "R-2026-000123-R1", ""]),
    document_kind=st.sampled_from(DocumentKind),
    issued_on=dates,
    issuer=issuers,
    donor=st.builds(DonorSnapshot, name=texts, address=texts, postal_code=st.sampled_from(["", "390-0873"])),
    lines=st.lists(lines, max_size=13).map(tuple),
    total_yen=st.integers(min_value=0, max_value=10**10),
    verification_code=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", max_size=10),
    verification_url=st.sampled_from(["", "https://example.jp/r/v/ABCD?x=1&y=2"]),
    flags=st.builds(
        ReceiptFlags,
        voided=st.booleans(),
        reissue=st.booleans(),
        replaces_number=st.sampled_from(["", "R-2026-000001"]),
        supplement=st.booleans(),
    ),
    period_from=dates,
    period_to=dates,
    tax_estimate_text=texts,
)


@settings(max_examples=300, deadline=None)
@given(snapshots)
def test_to_dict_is_the_general_encoding_and_round_trips(snapshot):
    data = assert_encodes_as_before(snapshot)
    assert ReceiptSnapshot.from_dict(data) == snapshot
    assert ReceiptSnapshot.from_json(snapshot.to_json()) == snapshot


def test_the_encoded_shape():
    """Pins what the comparison above compares: dates as ISO strings, enums by value, tuples as lists."""
    snapshot = ReceiptSnapshot(
        number="S-2026-000001",
        document_kind=DocumentKind.ANNUAL_STATEMENT,
        issued_on=date(2026, 1, 15),
        issuer=IssuerSnapshot(
            kind=IssuerKind.JOREI_NPO,
            name="特定非営利活動法人 信州みどりの会",
            address="長野県長野市",
            designations=(Designation("長野県", date(2020, 10, 19)), Designation("長野市", None)),
        ),
        donor=DonorSnapshot("寄附 太郎"),
        lines=(ReceiptLine(date(2025, 3, 1), 3000, "森づくり", "環境の保全を図る活動"), ReceiptLine(None, 1, "")),
        total_yen=3001,
        verification_code="ABCD2345",
        verification_url="https://example.jp/v",
        flags=ReceiptFlags(reissue=True, replaces_number="S-2025-000009"),
        period_from=date(2025, 1, 1),
    )
    data = assert_encodes_as_before(snapshot)
    assert list(data)[:4] == ["version", "number", "document_kind", "issued_on"]
    assert data["document_kind"] == "annual_statement" and type(data["document_kind"]) is str
    assert data["issued_on"] == "2026-01-15" and data["period_to"] is None
    assert data["issuer"]["kind"] == "jorei_npo" and type(data["issuer"]["kind"]) is str
    assert data["issuer"]["designations"] == [
        {"body": "長野県", "effective_on": "2020-10-19"},
        {"body": "長野市", "effective_on": None},
    ]
    assert data["lines"][1] == {"received_on": None, "amount_yen": 1, "purpose": "", "activity": ""}
    assert data["flags"] == {"voided": False, "reissue": True, "replaces_number": "S-2025-000009", "supplement": False}
    assert ReceiptSnapshot.from_dict(data) == snapshot


@dataclass(frozen=True)
class _Line(ReceiptLine):
    """A subclass with a field of its own: not the exact type the annotation names."""

    note: str = "備考"


def test_values_the_annotations_do_not_announce_take_the_general_path():
    """Frozen dataclasses do not check types: a datetime in a date field, a list or a dict for a tuple, a plain string
    for an enum, a subclass of a nested dataclass, a bool or an enum where an int is annotated encode as they used
    to."""
    snapshot = ReceiptSnapshot(
        number="R-2026-000001",
        document_kind=DocumentKind.RECEIPT,
        issued_on=date(2026, 5, 1),
        issuer=IssuerSnapshot(kind=IssuerKind.KOEKI, name="基金", address="長野市"),
        donor=DonorSnapshot("寄附 花子"),
        lines=(ReceiptLine(date(2026, 4, 1), 1000, "植樹"),),
        total_yen=1000,
        verification_code="X",
        verification_url="https://example.jp/v",
    )
    odd = {
        "issued_on": datetime(2026, 5, 1, 9, 30),
        "lines": (_Line(datetime(2026, 4, 1, 12, 0), True, DocumentKind.RECEIPT), ReceiptLine(None, 5, "x")),
        "number": ["R-2026-000001", date(2026, 5, 1)],
        "document_kind": "receipt",
        "total_yen": IssuerKind.PLAIN,
        "donor": {"name": ("寄附", date(2026, 1, 2))},
        "period_from": "2026-01-01",
        "verification_code": 12.5,
    }
    for name, value in odd.items():
        object.__setattr__(snapshot, name, value)
    issuer = snapshot.issuer
    object.__setattr__(issuer, "kind", "koeki")
    object.__setattr__(issuer, "designations", {"県": Designation("長野県", datetime(2020, 10, 19, 0, 0))})
    object.__setattr__(issuer, "certified_on", DocumentKind.RECEIPT)

    data = assert_encodes_as_before(snapshot)
    assert data["issued_on"] == "2026-05-01T09:30:00"
    assert data["lines"][0] == {
        "received_on": "2026-04-01T12:00:00",
        "amount_yen": True,
        "purpose": "receipt",
        "activity": "",
        "note": "備考",
    }
    assert data["donor"] == {"name": ["寄附", "2026-01-02"]}
    assert data["number"] == ["R-2026-000001", "2026-05-01"]
    assert data["total_yen"] == "plain" and type(data["total_yen"]) is str and data["verification_code"] == 12.5
    assert data["issuer"]["designations"] == {"県": {"body": "長野県", "effective_on": "2020-10-19T00:00:00"}}


@dataclass(frozen=True)
class _Node:
    """A dataclass that contains itself, and one field whose annotation names nothing importable."""

    name: str
    children: tuple[_Node, ...] = ()
    parent: _Node | None = None


@dataclass(frozen=True)
class _Unresolved:
    when: NoSuchType  # type: ignore[name-defined]  # noqa: F821
    label: str = ""


def test_other_dataclasses_encode_as_the_general_encoder_does():
    leaf = _Node("葉", parent=_Node("親"))
    tree = _Node("根", (leaf, _Node("枝", (_Node("芽"),))))
    assert _encoder(_Node)(tree) == reference(tree)
    assert _encoder(_Node)(tree)["children"][0]["parent"] == {"name": "親", "children": [], "parent": None}
    unresolved = _Unresolved(date(2026, 1, 1), "x")
    assert _encoder(_Unresolved)(unresolved) == reference(unresolved) == {"when": "2026-01-01", "label": "x"}
