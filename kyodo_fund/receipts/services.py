"""Issuing, voiding, reissuing and sending receipts. Every function works in the caller's transaction.

``issue_receipt`` validates before it numbers (R1), takes the number, renders the PDF, stores both and queues
the e-mail, so a rollback anywhere gives the number back and nothing is half-issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.db import utcnow
from kyodo_fund.donations.models import Donation, DonationStatus, ReceiptPreference
from kyodo_fund.notifications.services import Stored, queue_email, register_attachment_source
from kyodo_fund.receipts import build
from kyodo_fund.receipts.issuers import TOKYO, issuer_for
from kyodo_fund.receipts.models import DocType, Receipt, ReceiptedGift, ReceiptHold, ReceiptKind, ReceiptStatus
from kyodo_fund.receipts.numbering import display_number, take_number
from kyodo_fund.receipts.pdf import render_receipt
from kyodo_fund.receipts.snapshot import ReceiptFlags, ReceiptSnapshot, validate_snapshot

#: Gifts whose money the issuer holds: the ones a receipt may be issued for.
RECEIPTABLE_STATUSES = (DonationStatus.PAID, DonationStatus.PARTIALLY_REFUNDED)


class ReceiptError(Exception):
    """A domain error; ``message`` is Japanese and may be shown to staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotReceiptable(ReceiptError):
    """The gift is not (or no longer) one this function may receipt."""


class ReceiptDataMissing(ReceiptError):
    """Mandatory data is missing (R1): no number was taken."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("、".join(problems))
        self.problems = problems


class ReasonRequired(ReceiptError):
    pass


class NotPermitted(ReceiptError):
    pass


class AlreadyVoided(ReceiptError):
    pass


def _config() -> Mapping[str, Any]:
    return current_app.config


def today_in_tokyo() -> Any:
    return utcnow().astimezone(TOKYO).date()


def _require_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(_("理由を入力してください。"))
    return reason


def is_receipted(session: Session, donation_id: int) -> bool:
    """Whether any document, valid or voided, ever covered the gift (it is then never receipted afresh)."""
    return bool(session.scalar(select(exists().where(ReceiptedGift.donation_id == donation_id))))


def donor_of(session: Session, donation: Donation) -> Any:
    from kyodo_fund.accounts.models import User

    return session.get(User, donation.user_id) if donation.user_id is not None else None


def project_of(session: Session, donation: Donation) -> Any:
    from kyodo_fund.projects.models import Project

    return session.get(Project, donation.project_id) if donation.project_id is not None else None


def issue_receipt(session: Session, donation: Donation, actor: Actor) -> Receipt:
    """The original receipt of one per-donation gift, for its net amount, e-mailed with the PDF attached."""
    config = _config()
    if donation.status not in RECEIPTABLE_STATUSES:
        raise NotReceiptable(_("状態が「%(status)s」の寄附には領収書を発行できません。", status=donation.status.label))
    if donation.receipt_preference == ReceiptPreference.ANNUAL:
        raise NotReceiptable(_("年間まとめでの発行を選んだ寄附です。"))
    if donation.anonymous:
        raise NotReceiptable(_("寄附者が分からない寄附には領収書を発行できません。"))
    net = donation.amount_yen - donation.refunded_yen
    if net <= 0:
        raise NotReceiptable(_("全額返金された寄附です。"))
    if is_receipted(session, donation.id):
        raise NotReceiptable(_("この寄附には発行済みの領収書があります。"))

    project = project_of(session, donation)
    issuer = issuer_for(session, config, donation, project)
    user = donor_of(session, donation)
    line = build.gift_line(issuer, donation, project, net)
    donor = build.donor_snapshot(donation, user)
    issued_on = today_in_tokyo()
    draft = build.receipt_snapshot(
        issuer, line, donor, number=build.DRAFT_NUMBER["R"], issued_on=issued_on, code="draft", url="draft"
    )
    if problems := validate_snapshot(draft):
        raise ReceiptDataMissing(problems)

    number = take_number(session, issuer.key, DocType.RECEIPT, issued_on.year)
    code = build.new_verification_code()
    shown = display_number(DocType.RECEIPT, issued_on.year, number)
    snapshot = build.receipt_snapshot(
        issuer, line, donor, number=shown, issued_on=issued_on, code=code, url=build.verification_url(config, code)
    )
    receipt = _store(
        session,
        snapshot,
        actor,
        issuer_key=issuer.key,
        doc_type=DocType.RECEIPT,
        year=issued_on.year,
        number=number,
        kind=ReceiptKind.ORIGINAL,
        donation_id=donation.id,
        user_id=donation.user_id,
        donor_key=build.donor_key(donation.user_id, donation.donor_email or getattr(user, "email", "")),
        recipient_email=donation.donor_email or getattr(user, "email", "") or "",
    )
    session.add(ReceiptedGift(receipt=receipt, donation_id=donation.id, amount_yen=net, received_on=line.received_on))
    session.execute(delete(ReceiptHold).where(ReceiptHold.donation_id == donation.id))
    session.flush()
    record(session, actor, "receipts.issue", receipt, after={"number": shown, "amount_yen": net})
    send_receipt(session, receipt, user=user)
    return receipt


def printed_fields(snapshot: ReceiptSnapshot, actor: Actor) -> dict[str, Any]:
    """The columns of a new ``Receipt`` that come from what is printed, and who issued it."""
    return {
        "display_number": snapshot.number,
        "amount_yen": snapshot.total_yen,
        "issued_on": snapshot.issued_on,
        "snapshot": snapshot.to_dict(),
        "verification_code": snapshot.verification_code,
        "issued_by_id": getattr(actor.user, "id", None),
    }


def _store(
    session: Session,
    snapshot: ReceiptSnapshot,
    actor: Actor,
    *,
    pdf: bytes | None = None,
    flush: bool = True,
    **fields: Any,
) -> Receipt:
    """Insert the document; ``pdf`` is ``render_receipt(snapshot)`` when the caller already rendered it.
    ``flush=False`` leaves the insert to the caller's next flush (one flush for many documents)."""
    receipt = Receipt(
        **printed_fields(snapshot, actor),
        pdf=render_receipt(snapshot) if pdf is None else pdf,
        gifts=[],  # a new document covers nothing yet: adding gifts must not query for existing ones
        **fields,
    )
    session.add(receipt)
    if flush:
        session.flush()
    return receipt


def snapshot_of(receipt: Receipt) -> ReceiptSnapshot:
    return ReceiptSnapshot.from_dict(receipt.snapshot)


def current_pdf(receipt: Receipt) -> bytes:
    """The PDF to hand out now: as issued, or re-rendered with the 取消 mark once voided."""
    if receipt.is_valid:
        return receipt.pdf
    snapshot = snapshot_of(receipt)
    flags = ReceiptFlags(voided=True, reissue=snapshot.flags.reissue, replaces_number=snapshot.flags.replaces_number)
    return render_receipt(_with(snapshot, flags=flags))


def _attachment(session: Session, receipt_id: str) -> bytes | None:
    """The PDF as it stands when the mail goes out: voided in between, it carries the 取消 mark."""
    receipt = session.get(Receipt, int(receipt_id))
    return None if receipt is None else current_pdf(receipt)


register_attachment_source("receipt", _attachment)


def _with(snapshot: ReceiptSnapshot, **changes: Any) -> ReceiptSnapshot:
    import dataclasses

    return dataclasses.replace(snapshot, **changes)


RECEIPT_EMAIL = "receipt_issued"


def receipt_mail_key(receipt_id: int) -> str:
    """The outbox dedupe key of a document's first mail: one per document, whoever queues it."""
    return f"receipt:{receipt_id}"


def receipt_attachment(receipt_id: int, display_number: str) -> tuple[str, str, Stored]:
    # The receipt row holds the PDF already; the outbox reads it from there when the mail goes out.
    return Receipt.filename_for(display_number), "application/pdf", Stored(f"receipt:{receipt_id}")


def receipt_email_context(snapshot: ReceiptSnapshot, kind: ReceiptKind, period_year: int | None) -> dict[str, Any]:
    """What the ``receipt_issued`` e-mail says about a document (its printed number and total)."""
    return {
        "donor_name": snapshot.donor.name,
        "number": snapshot.number,
        "statement": kind == ReceiptKind.ANNUAL_STATEMENT,
        "reissue": kind == ReceiptKind.REISSUE,
        "replaces": snapshot.flags.replaces_number,
        "amount_yen": snapshot.total_yen,
        "issuer_name": snapshot.issuer.name,
        "period_year": period_year,
        "verify_url": snapshot.verification_url,
    }


def send_receipt(
    session: Session,
    receipt: Receipt,
    *,
    user: Any = None,
    dedupe_key: str | None = None,
    snapshot: ReceiptSnapshot | None = None,
) -> bool:
    """Queue the e-mail with the PDF attached. False when there is no address (posted on paper instead)."""
    if not receipt.recipient_email:
        return False
    if user is None and receipt.user_id is not None:
        from kyodo_fund.accounts.models import User

        user = session.get(User, receipt.user_id)
    snapshot = snapshot or snapshot_of(receipt)
    queue_email(
        session,
        RECEIPT_EMAIL,
        to=receipt.recipient_email,
        locale=getattr(user, "locale", None) or "ja",
        context=receipt_email_context(snapshot, receipt.kind, receipt.period_year),
        attachments=[receipt_attachment(receipt.id, receipt.display_number)],
        dedupe_key=dedupe_key or receipt_mail_key(receipt.id),
    )
    receipt.emailed_at = utcnow()
    return True


def resend_receipt(session: Session, receipt: Receipt, actor: Actor) -> bool:
    """Send the document again (the donor lost the mail). Each resend is its own message."""
    _require_admin(actor)
    sent = send_receipt(session, receipt, dedupe_key=f"{receipt_mail_key(receipt.id)}:resend:{utcnow().isoformat()}")
    if sent:
        record(session, actor, "receipts.resend", receipt, after={"to": receipt.recipient_email})
    return sent


def _require_admin(actor: Actor) -> None:
    if actor.user is not None and not getattr(actor.user, "is_admin", False):
        raise NotPermitted(_("この操作は管理者だけが行えます。"))


def void_receipt(session: Session, receipt: Receipt, actor: Actor, reason: str | None, *, notify: bool = True) -> None:
    """取消: the number is never reused; reissue copies of it are voided with it. Jobs act as the system."""
    _require_admin(actor)
    reason = _require_reason(reason)
    if not receipt.is_valid:
        raise AlreadyVoided(_("%(number)s は取消済みです。", number=receipt.display_number))
    now = utcnow()
    copies = session.scalars(
        select(Receipt).where(Receipt.reissue_of_id == receipt.id, Receipt.status == ReceiptStatus.VALID)
    ).all()
    for document in (receipt, *copies):
        document.status = ReceiptStatus.VOIDED
        document.voided_at = now
        document.void_reason = reason
    for gift in receipt.gifts:
        gift.in_force = False
    session.flush()
    record(
        session,
        actor,
        "receipts.void",
        receipt,
        before={"status": ReceiptStatus.VALID.value},
        after={"status": ReceiptStatus.VOIDED.value, "number": receipt.display_number},
        note=reason,
    )
    if notify and receipt.recipient_email:
        queue_email(
            session,
            "receipt_voided",
            to=receipt.recipient_email,
            context={"number": receipt.display_number, "issuer_name": snapshot_of(receipt).issuer.name},
            dedupe_key=f"receipt-void:{receipt.id}",
        )


def reissue_receipt(session: Session, receipt: Receipt, actor: Actor, reason: str | None) -> Receipt:
    """再発行 of a lost document: same number with -R<n>, same content and dates, 「再発行」 mark. Admin only."""
    if actor.user is None or not getattr(actor.user, "is_admin", False):
        raise NotPermitted(_("再発行は管理者だけが行えます。"))
    reason = _require_reason(reason)
    original = receipt.reissue_of if receipt.kind == ReceiptKind.REISSUE else receipt
    if not original.is_valid:
        raise AlreadyVoided(_("%(number)s は取消済みのため再発行できません。", number=original.display_number))
    seq = 1 + (session.scalar(select(func.max(Receipt.reissue_seq)).where(Receipt.reissue_of_id == original.id)) or 0)
    code = build.new_verification_code()
    shown = display_number(original.doc_type, original.year, original.number, seq)
    source = snapshot_of(original)
    snapshot = _with(
        source,
        number=shown,
        verification_code=code,
        verification_url=build.verification_url(_config(), code),
        flags=ReceiptFlags(reissue=True, replaces_number=source.flags.replaces_number),
    )
    copy = _store(
        session,
        snapshot,
        actor,
        issuer_key=original.issuer_key,
        doc_type=original.doc_type,
        year=original.year,
        number=original.number,
        reissue_seq=seq,
        kind=ReceiptKind.REISSUE,
        donation_id=original.donation_id,
        user_id=original.user_id,
        donor_key=original.donor_key,
        period_year=original.period_year,
        recipient_email=original.recipient_email,
        reissue_of_id=original.id,
    )
    record(
        session, actor, "receipts.reissue", copy, after={"number": shown, "of": original.display_number}, note=reason
    )
    send_receipt(session, copy)
    return copy


def hold_for_missing_data(session: Session, donation_ids: list[int], problems: list[str], context: str) -> None:
    """Put gifts on the "needs data" list (or refresh their problems)."""
    now = utcnow()
    for donation_id in donation_ids:
        hold = session.get(ReceiptHold, donation_id)
        if hold is None:
            session.add(ReceiptHold(donation_id=donation_id, problems=problems, context=context, checked_at=now))
        else:
            hold.problems, hold.context, hold.checked_at = problems, context, now
    session.flush()


def replace_receipt(session: Session, receipt: Receipt, actor: Actor, amount_yen: int, reason: str) -> Receipt:
    """Void ``receipt`` and issue a new number for ``amount_yen`` that says which one it replaces (§4)."""
    void_receipt(session, receipt, actor, reason, notify=False)
    (line,) = snapshot_of(receipt).lines
    return issue_replacement(
        session,
        receipt,
        actor,
        lines=[_with(line, amount_yen=amount_yen)],
        gifts=[(receipt.donation_id, amount_yen, line.received_on)],
        kind=ReceiptKind.REPLACEMENT,
        reason=reason,
        fields={"donation_id": receipt.donation_id},
    )


def issue_replacement(
    session: Session,
    old: Receipt,
    actor: Actor,
    *,
    lines: list[Any],
    gifts: list[tuple[int, int, date]],
    kind: ReceiptKind,
    reason: str,
    fields: dict[str, Any],
    **snapshot_changes: Any,
) -> Receipt:
    """The one way a voided receipt or statement gets its successor: a new number this year, the lines that
    still stand, a mark saying which number it replaces, the gifts it covers, an audit row and the mail.

    ``gifts`` are (donation id, amount, received on); ``fields`` are extra columns for the new row.
    """
    source = snapshot_of(old)
    issued_on = today_in_tokyo()
    number = take_number(session, old.issuer_key, old.doc_type, issued_on.year)
    code = build.new_verification_code()
    shown = display_number(old.doc_type, issued_on.year, number)
    total = sum(line.amount_yen for line in lines)
    snapshot = _with(
        source,
        number=shown,
        issued_on=issued_on,
        lines=tuple(lines),
        total_yen=total,
        verification_code=code,
        verification_url=build.verification_url(_config(), code),
        flags=ReceiptFlags(replaces_number=old.display_number),
        **snapshot_changes,
    )
    replacement = _store(
        session,
        snapshot,
        actor,
        issuer_key=old.issuer_key,
        doc_type=old.doc_type,
        year=issued_on.year,
        number=number,
        kind=kind,
        user_id=old.user_id,
        donor_key=old.donor_key,
        recipient_email=old.recipient_email,
        replaces_id=old.id,
        **fields,
    )
    old.replaced_by_id = replacement.id
    session.add_all(
        ReceiptedGift(receipt=replacement, donation_id=donation_id, amount_yen=amount, received_on=received_on)
        for donation_id, amount, received_on in gifts
    )
    session.flush()
    record(
        session,
        actor,
        "receipts.replace",
        replacement,
        before={"number": old.display_number, "amount_yen": old.amount_yen},
        after={"number": shown, "amount_yen": total},
        note=reason,
    )
    send_receipt(session, replacement)
    return replacement


def verification_status(session: Session, receipt: Receipt) -> str:
    """What the public page says: valid, voided, replaced (voided with a successor) or reissued."""
    if receipt.status == ReceiptStatus.VOIDED:
        return "replaced" if receipt.replaced_by_id else "voided"
    if receipt.kind != ReceiptKind.REISSUE and session.scalar(
        select(exists().where(Receipt.reissue_of_id == receipt.id))
    ):
        return "reissued"
    return "valid"
