"""``ReceiptSnapshot``: everything a receipt or annual statement prints, frozen at issue time.

Issued receipts are immutable (receipts-and-tax.md §4): the snapshot is stored as JSON next to the receipt
row and the PDF is always rendered from it, so a retry or a 再発行 prints the same content as the original.
"""

from __future__ import annotations

import enum
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kyodo_fund.tax.kinds import IssuerKind

#: Bumped when a field changes meaning; ``from_dict`` refuses versions it does not know.
SCHEMA_VERSION = 1


class DocumentKind(enum.StrEnum):
    RECEIPT = "receipt"
    ANNUAL_STATEMENT = "annual_statement"


@dataclass(frozen=True)
class Designation:
    """One 条例指定 (ordinance designation) for the resident-tax credit."""

    body: str  #: the designating 地方公共団体, e.g. 長野県 or 長野市
    effective_on: date | None  #: gifts from this date qualify


@dataclass(frozen=True)
class IssuerSnapshot:
    kind: IssuerKind
    name: str
    address: str
    representative: str = ""
    #: 認定番号 as written on the 認定通知書 (nintei_npo).
    certification_number: str = ""
    certified_on: date | None = None  #: 認定年月日
    certification_expires_on: date | None = None
    #: 所轄庁 that granted the 認定, e.g. 長野県知事; printed when known.
    certifying_authority: str = ""
    provisional: bool = False  #: 特例認定 rather than 認定
    #: 条例指定: mandatory for jorei_npo, the optional 住民税 line for the others.
    designations: tuple[Designation, ...] = ()
    #: 税額控除に係る証明書 (koeki_cert): printed number and date instead of an attached copy.
    tax_credit_cert_number: str = ""
    tax_credit_cert_on: date | None = None
    tax_credit_cert_authority: str = ""
    #: 主たる目的である業務, printed after the main-purpose statement of 公益法人 when given.
    main_purpose: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", IssuerKind(self.kind))
        object.__setattr__(self, "designations", tuple(self.designations))


@dataclass(frozen=True)
class DonorSnapshot:
    name: str
    address: str = ""
    postal_code: str = ""


@dataclass(frozen=True)
class ReceiptLine:
    received_on: date | None  #: 受領年月日 (JST date on the issuer's date basis)
    amount_yen: int
    purpose: str  #: 但し書き: the project name
    activity: str = ""  #: the 特定非営利活動 the gift relates to (nintei_npo)


@dataclass(frozen=True)
class ReceiptFlags:
    voided: bool = False  #: prints a large 取消 mark
    reissue: bool = False  #: prints 「再発行」; the number carries the -R1, -R2 … suffix
    replaces_number: str = ""  #: the voided document this one replaces (partial refunds)
    #: An annual statement of gifts the donor's first statement for the year did not cover (recorded after it).
    supplement: bool = False


@dataclass(frozen=True)
class ReceiptSnapshot:
    number: str  #: R-2026-000123, S-2026-000001, R-2026-000123-R1
    document_kind: DocumentKind
    issued_on: date | None
    issuer: IssuerSnapshot
    donor: DonorSnapshot
    lines: tuple[ReceiptLine, ...]
    total_yen: int
    verification_code: str
    verification_url: str
    flags: ReceiptFlags = field(default_factory=ReceiptFlags)
    #: The calendar year an annual statement covers.
    period_from: date | None = None
    period_to: date | None = None
    #: Informational tax estimate printed on annual statements (never on ``plain``).
    tax_estimate_text: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "document_kind", DocumentKind(self.document_kind))
        object.__setattr__(self, "lines", tuple(self.lines))

    @property
    def is_tax_document(self) -> bool:
        return self.issuer.kind != IssuerKind.PLAIN

    def to_dict(self) -> dict[str, Any]:
        return {"version": SCHEMA_VERSION, **_encoder(type(self))(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReceiptSnapshot:
        data = dict(data)
        version = data.pop("version", None)
        if version != SCHEMA_VERSION:
            raise ValueError(f"unknown receipt snapshot version {version!r}")
        issuer = dict(data.pop("issuer"))
        issuer["designations"] = tuple(
            Designation(body=d["body"], effective_on=_date(d["effective_on"])) for d in issuer.get("designations", ())
        )
        for key in ("certified_on", "certification_expires_on", "tax_credit_cert_on"):
            issuer[key] = _date(issuer.get(key))
        lines = tuple(ReceiptLine(**{**line, "received_on": _date(line["received_on"])}) for line in data.pop("lines"))
        donor = DonorSnapshot(**data.pop("donor"))
        flags = ReceiptFlags(**data.pop("flags", {}))
        for key in ("issued_on", "period_from", "period_to"):
            data[key] = _date(data.get(key))
        return cls(**data, issuer=IssuerSnapshot(**issuer), donor=donor, lines=lines, flags=flags)

    @classmethod
    def from_json(cls, text: str) -> ReceiptSnapshot:
        return cls.from_dict(json.loads(text))


def _encode(value: Any) -> Any:
    """Any value as JSON data: dataclasses field by field, enums by value, dates in ISO form, sequences as lists.

    The general case: ``to_dict`` goes through each class's compiled encoder (``_encoder``), which comes here only
    for a value its field's annotation did not announce."""
    cls = type(value)
    if cls in _PLAIN:  # most values; none of them is a dataclass or an enum
        return value
    if is_dataclass(cls):
        return _encoder(cls)(value)
    if isinstance(value, enum.Enum):  # before str: a StrEnum is a str
        return value.value
    if isinstance(value, (str, int)):
        return value
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


#: Types ``_encode`` returns as they are, checked by exact type (a subclass, an enum say, takes the long way).
_PLAIN = frozenset({str, int, bool, type(None)})

#: Dataclass → its compiled encoder, filled on first use.
_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _encoder(cls: type, building: frozenset[type] = frozenset()) -> Callable[[Any], dict[str, Any]]:
    """The function that encodes an instance of the dataclass ``cls`` as ``_encode`` would, built once per class.

    An annual run encodes a hundred thousand snapshots of some ninety values each, and the general ``_encode`` asks
    every value what it is. This one is written for the class from its fields' annotations: one dict display that
    reads each field and converts it inline (a date with ``isoformat``, an enum to its value, a nested dataclass or a
    tuple of them with their own encoders), about five times faster. Each conversion is guarded by the exact type
    the annotation names, so a value of another type (a ``datetime``, a list, a plain ``str`` for an enum) goes to
    ``_encode`` and comes out the same. The source is made only of the class's field names, which are identifiers,
    and of names bound in its own namespace; no value goes into it.

    ``building``: the classes whose encoders are being built around this one; a field of such a class (a dataclass
    that contains itself) takes the general path, which finds the finished encoder when it runs.
    """
    encoder = _ENCODERS.get(cls)
    if encoder is not None:
        return encoder
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation that does not resolve: every field then takes the general path
        hints = {}
    namespace: dict[str, Any] = {"_encode": _encode, "_PLAIN": _PLAIN, "date": date}
    building |= {cls}
    items = [
        f"{f.name!r}: {_field_expression(hints.get(f.name), f'v.{f.name}', namespace, building)}" for f in fields(cls)
    ]
    source = f"def encode(v):\n    return {{{', '.join(items)}}}\n"
    exec(compile(source, f"<encoder of {cls.__qualname__}>", "exec"), namespace)  # noqa: S102 (see the docstring)
    # Two threads may both build it; either result is the same function.
    encoder = _ENCODERS[cls] = namespace["encode"]
    return encoder


def _field_expression(hint: Any, read: str, namespace: dict[str, Any], building: frozenset[type]) -> str:
    """Python source for the encoded value of one field read by ``read``, chosen by the field's type ``hint``."""
    args = typing.get_args(hint)
    if hint in (str, int, bool):
        return f"(x if type(x := {read}) in _PLAIN else _encode(x))"
    if hint is date or (len(args) == 2 and date in args and type(None) in args):
        return f"(x if (x := {read}) is None else x.isoformat() if type(x) is date else _encode(x))"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        kind = _bind(namespace, hint)
        return f"(x.value if type(x := {read}) is {kind} else _encode(x))"
    if isinstance(hint, type) and is_dataclass(hint) and hint not in building:
        kind, encode = _bind(namespace, hint), _bind(namespace, _encoder(hint, building))
        return f"({encode}(x) if type(x := {read}) is {kind} else _encode(x))"
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = args[0]
        if isinstance(item, type) and is_dataclass(item) and item not in building:
            kind, encode = _bind(namespace, item), _bind(namespace, _encoder(item, building))
            return (
                f"([{encode}(i) if type(i) is {kind} else _encode(i) for i in x] "
                f"if type(x := {read}) is tuple else _encode(x))"
            )
    return f"_encode({read})"


def _bind(namespace: dict[str, Any], value: Any) -> str:
    """A fresh name for ``value`` in the generated code's namespace."""
    name = f"_n{len(namespace)}"
    namespace[name] = value
    return name


def _date(value: str | None) -> date | None:
    return None if value in (None, "") else date.fromisoformat(value)


_NUMBER = re.compile(r"[RS]-\d{4}-\d{6}(-R\d+)?")


def validate_snapshot(snapshot: ReceiptSnapshot) -> list[str]:
    """What is missing before this document may be numbered and issued (R1), in Japanese, per issuer kind
    (receipts-and-tax.md §1). An empty list means it may be issued."""
    s, issuer, donor = snapshot, snapshot.issuer, snapshot.donor
    kind = issuer.kind
    problems: list[str] = []

    # Messages are lazy: a valid document (the usual case, thousands per annual run) translates none of them.
    def need(value: object, message: Any) -> None:
        if value in (None, "") or (isinstance(value, str) and not value.strip()):
            problems.append(str(message))

    need(s.number, _l("通番がありません"))
    if s.number and not _NUMBER.fullmatch(s.number):
        problems.append(_("通番の形式が正しくありません（例: R-2026-000123）"))
    need(s.issued_on, _l("発行日がありません"))
    need(issuer.name, _l("発行者の名称がありません"))
    need(issuer.address, _l("発行者の所在地がありません"))
    need(donor.name, _l("寄附者の氏名がありません"))
    if donor.name.strip() in {"上様", "上さま"}:
        problems.append(_("寄附者の氏名を「上様」にすることはできません"))
    if kind in (IssuerKind.NINTEI_NPO, IssuerKind.KOEKI_CERT, IssuerKind.JOREI_NPO):
        need(donor.address, _l("寄附者の住所がありません"))
    need(s.verification_code, _l("照合コードがありません"))
    need(s.verification_url, _l("照合用URLがありません"))
    if not s.lines:
        problems.append(_("寄附の明細がありません"))
    for n, line in enumerate(s.lines, start=1):
        need(line.received_on, _l("%(n)s件目の受領年月日がありません", n=n))
        need(line.purpose, _l("%(n)s件目の但し書き（寄附の目的）がありません", n=n))
        if not isinstance(line.amount_yen, int) or isinstance(line.amount_yen, bool) or line.amount_yen <= 0:
            problems.append(_("%(n)s件目の金額が正しくありません", n=n))
        if kind == IssuerKind.NINTEI_NPO:
            need(line.activity, _l("%(n)s件目の特定非営利活動（寄附が充てられる活動）がありません", n=n))
            if line.received_on and issuer.certified_on and line.received_on < issuer.certified_on:
                problems.append(_("%(n)s件目の受領年月日が認定年月日より前です", n=n))
    if s.lines and s.total_yen != sum(line.amount_yen for line in s.lines if isinstance(line.amount_yen, int)):
        problems.append(_("合計金額が明細の合計と一致しません"))
    if kind == IssuerKind.NINTEI_NPO:
        need(issuer.certification_number, _l("認定番号がありません"))
        need(issuer.certified_on, _l("認定年月日がありません"))
    if kind == IssuerKind.KOEKI_CERT:
        need(issuer.tax_credit_cert_number, _l("税額控除に係る証明書の番号がありません"))
        need(issuer.tax_credit_cert_on, _l("税額控除に係る証明書の日付がありません"))
    if kind == IssuerKind.JOREI_NPO and not issuer.designations:
        problems.append(_("条例指定をした地方公共団体（県・市町村）がありません"))
    for designation in issuer.designations:
        need(designation.body, _l("条例指定をした地方公共団体の名称がありません"))
        need(designation.effective_on, _l("条例指定の効力発生日がありません"))
    if kind == IssuerKind.JOREI_NPO and issuer.designations:
        starts = [d.effective_on for d in issuer.designations if d.effective_on]
        for n, line in enumerate(s.lines, start=1):
            if starts and line.received_on and line.received_on < min(starts):
                problems.append(_("%(n)s件目の受領年月日が条例指定の効力発生日より前です", n=n))
    if kind == IssuerKind.PLAIN and s.tax_estimate_text:
        problems.append(_("領収書には税制優遇の目安を記載できません"))
    return problems
