"""Annual statements: totals, preflight, resumability, never twice, never both, corrections (tests 17, 21)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from kyodo_fund.audit import SYSTEM
from kyodo_fund.donations.models import Donation, DonationStatus, ReceiptPreference
from kyodo_fund.receipts import statements
from kyodo_fund.receipts.models import Receipt, ReceiptedGift, ReceiptHold, ReceiptKind, ReceiptStatus
from kyodo_fund.receipts.refunds import apply_refunds
from kyodo_fund.receipts.services import NotReceiptable, issue_receipt
from kyodo_fund.receipts.statements import issue_annual, preflight_annual
from kyodo_fund.tax.kinds import IssuerKind
from tests.factories import make_user
from tests.receipts.conftest import pdf_text

ANNUAL = ReceiptPreference.ANNUAL


@pytest.fixture
def run_day():
    with time_machine.travel(datetime(2027, 1, 15, 0, 0, tzinfo=UTC), tick=True):  # 09:00 JST
        yield


def paid(month: int, day: int = 10, year: int = 2026) -> datetime:
    return datetime(year, month, day, 3, 0, tzinfo=UTC)


def run_cli(app, *args):
    result = app.test_cli_runner().invoke(args=["receipts", "annual", "--no-progress", *args])
    return result


def statements_of(db_session):
    return db_session.scalars(
        select(Receipt).where(Receipt.kind == ReceiptKind.ANNUAL_STATEMENT).order_by(Receipt.number)
    ).all()


def test_totals_equal_the_donors_gifts_of_the_year(app, app_ctx, db_session, run_day, configure_issuer, gift):
    configure_issuer("koeki")
    user = make_user(db_session, email="monthly@example.jp")
    for month in range(1, 13):
        gift(user_id=user.id, amount_yen=3_000, paid_at=paid(month), receipt_preference=ANNUAL)
    gift(user_id=user.id, amount_yen=5_000, paid_at=paid(12, 31, 2025), receipt_preference=ANNUAL)  # other year
    gift(user_id=user.id, amount_yen=7_000, paid_at=paid(6))  # per-donation: not on the statement
    gift(
        user_id=user.id,
        amount_yen=4_000,
        refunded_yen=1_000,
        status=DonationStatus.PARTIALLY_REFUNDED,
        paid_at=paid(7, 1),
        receipt_preference=ANNUAL,
    )
    # 2026-12-31T15:30Z is 1 January 2027 in Tokyo: tax year 2027, not on this statement (§2).
    gift(
        user_id=user.id, amount_yen=9_000, paid_at=datetime(2026, 12, 31, 15, 30, tzinfo=UTC), receipt_preference=ANNUAL
    )
    guest = gift(donor_email="Guest@Example.jp", amount_yen=2_500, paid_at=paid(3), receipt_preference=ANNUAL)
    gift(donor_email="guest@example.jp ", amount_yen=1_500, paid_at=paid(4), receipt_preference=ANNUAL)
    db_session.commit()

    result = run_cli(app, "--year", "2026")
    assert result.exit_code == 0, result.output
    assert "発行 2 件" in result.output
    by_key = {r.donor_key: r for r in statements_of(db_session)}
    mine, guests = by_key[f"u:{user.id}"], by_key["e:guest@example.jp"]
    expected = db_session.scalar(
        select(func.sum(Donation.amount_yen - Donation.refunded_yen)).where(
            Donation.user_id == user.id,
            Donation.receipt_preference == ANNUAL,
            Donation.paid_at >= datetime(2025, 12, 31, 15, 0, tzinfo=UTC),
            Donation.paid_at < datetime(2026, 12, 31, 15, 0, tzinfo=UTC),
        )
    )
    assert mine.amount_yen == expected == 12 * 3_000 + 3_000
    assert sum(g.amount_yen for g in mine.gifts) == mine.amount_yen and len(mine.gifts) == 13
    assert guests.amount_yen == 4_000 and guests.gifts[0].donation_id == guest.id
    assert (mine.period_year, mine.display_number[:7]) == (2026, "S-2027-")
    text = pdf_text(mine.pdf)
    assert "¥39,000-" in text and "13件" in text and "令和8年1月1日から令和8年12月31日まで" in text
    assert "推計" in text and "所得控除のみ対象" in text


def test_preflight_lists_a_donor_without_an_address_before_issuing(app, db_session, run_day, configure_issuer, gift):
    configure_issuer("koeki_cert")  # the certificate's kind needs the donor's address
    gift(
        donor_name="住所 なし子",
        donor_email="noaddress@example.jp",
        donor_address="",
        paid_at=paid(5),
        receipt_preference=ANNUAL,
    )
    gift(donor_email="ok@example.jp", paid_at=paid(5), receipt_preference=ANNUAL)
    db_session.commit()

    dry = run_cli(app, "--year", "2026", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "住所 なし子 <noaddress@example.jp>: 寄附者の住所がありません" in dry.output
    assert "--dry-run" in dry.output and statements_of(db_session) == []

    real = run_cli(app, "--year", "2026")
    assert real.output.index("寄附者の住所がありません") < real.output.index("発行 1 件")
    (issued,) = statements_of(db_session)
    assert issued.recipient_email == "ok@example.jp"
    (hold,) = db_session.scalars(select(ReceiptHold)).all()
    assert hold.problems == ["寄附者の住所がありません"] and hold.context == "statement:2026"


def test_crash_at_donor_51_then_rerun_issues_the_rest(app, db_session, run_day, configure_issuer, gift, monkeypatch):
    configure_issuer("koeki")
    for n in range(100):
        gift(
            donor_email=f"d{n:03}@example.jp", amount_yen=1_000 + n, paid_at=paid(1 + n % 12), receipt_preference=ANNUAL
        )
    db_session.commit()
    real = statements._statement_row
    calls = {"n": 0}

    def dies_at_51(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 51:
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(statements, "_statement_row", dies_at_51)
    crashed = run_cli(app, "--year", "2026", "--batch-size", "7")
    assert isinstance(crashed.exception, RuntimeError)
    db_session.rollback()
    # Commits come per group of donors (here a batch of 7): the group in progress at the crash, donors 50–56,
    # is rolled back whole, numbers included, so what survived is numbered 1–49 without a gap.
    assert sorted(r.number for r in statements_of(db_session)) == list(range(1, 50))

    monkeypatch.setattr(statements, "_statement_row", real)
    rerun = run_cli(app, "--year", "2026", "--batch-size", "7")
    assert rerun.exit_code == 0, rerun.output
    assert "発行 51 件、発行済みのためスキップ 49 人" in rerun.output
    issued = statements_of(db_session)
    assert sorted(r.number for r in issued) == list(range(1, 101))
    assert len({r.donor_key for r in issued}) == 100

    again = run_cli(app, "--year", "2026")
    assert "発行 0 件、発行済みのためスキップ 100 人" in again.output
    assert len(statements_of(db_session)) == 100


def test_a_second_concurrent_run_cannot_issue_the_same_statement(
    app, app_ctx, db_session, run_day, configure_issuer, gift
):
    configure_issuer("koeki")
    gift(donor_email="race@example.jp", paid_at=paid(5), receipt_preference=ANNUAL)
    db_session.commit()
    first = preflight_annual(db_session, 2026)
    second = preflight_annual(db_session, 2026)  # planned before the first issued anything
    assert issue_annual(db_session, first, SYSTEM).issued == 1
    late = issue_annual(db_session, second, SYSTEM)
    assert (late.issued, late.skipped) == (0, 1)
    assert len(statements_of(db_session)) == 1


def test_a_gift_is_on_a_statement_or_a_receipt_never_both(app, app_ctx, db_session, run_day, configure_issuer, gift):
    configure_issuer("koeki")
    receipted = gift(donor_email="both@example.jp", paid_at=paid(2))  # per-donation preference
    open_gift = gift(donor_email="both@example.jp", paid_at=paid(3))
    issue_receipt(db_session, receipted, SYSTEM)
    db_session.commit()
    result = run_cli(app, "--year", "2026", "--donor", "BOTH@example.jp")
    assert result.exit_code == 0, result.output
    (statement,) = statements_of(db_session)
    assert [g.donation_id for g in statement.gifts] == [open_gift.id]
    with pytest.raises(NotReceiptable):
        issue_receipt(db_session, open_gift, SYSTEM)
    in_force = db_session.scalars(select(ReceiptedGift.donation_id).where(ReceiptedGift.in_force.is_(True))).all()
    assert sorted(in_force) == sorted([receipted.id, open_gift.id])


def test_tax_excluded_gifts_get_their_own_plain_statement(
    app, app_ctx, db_session, run_day, configure_issuer, gift, project
):
    from tests.factories import make_project

    configure_issuer("koeki")
    excluded = make_project(db_session, project.organisation, tax_excluded=True, title="出資型プロジェクト")
    gift(donor_email="two@example.jp", paid_at=paid(2), receipt_preference=ANNUAL)
    gift(project=excluded, donor_email="two@example.jp", paid_at=paid(3), receipt_preference=ANNUAL)
    db_session.commit()
    plan = preflight_annual(db_session, 2026)
    assert issue_annual(db_session, plan, SYSTEM).issued == 2
    kinds = {r.snapshot["issuer"]["kind"]: r for r in statements_of(db_session)}
    assert set(kinds) == {IssuerKind.KOEKI.value, IssuerKind.PLAIN.value}
    plain_text = pdf_text(kinds["plain"].pdf)
    assert "領収書" in plain_text and "推計" not in plain_text and "出資型プロジェクト" in plain_text


def test_refund_after_the_statement_voids_and_replaces_it(app, app_ctx, db_session, run_day, configure_issuer, gift):
    configure_issuer("koeki")
    kept = gift(donor_email="r@example.jp", amount_yen=5_000, paid_at=paid(2), receipt_preference=ANNUAL)
    refunded = gift(donor_email="r@example.jp", amount_yen=8_000, paid_at=paid(3), receipt_preference=ANNUAL)
    db_session.commit()
    issue_annual(db_session, preflight_annual(db_session, 2026), SYSTEM)
    (statement,) = statements_of(db_session)
    assert statement.amount_yen == 13_000

    refunded.refunded_yen, refunded.status, refunded.receipt_needs_review = (
        3_000,
        DonationStatus.PARTIALLY_REFUNDED,
        True,
    )
    with time_machine.travel(datetime(2027, 2, 1, 0, 0, tzinfo=UTC) + timedelta(hours=1), tick=True):
        assert apply_refunds(db_session, SYSTEM) == {"statement_replaced": 1}
    replacement = db_session.get(Receipt, statement.replaced_by_id)
    assert statement.status == ReceiptStatus.VOIDED
    assert (replacement.amount_yen, replacement.period_year, replacement.display_number) == (
        10_000,
        2026,
        "S-2027-000002",
    )
    assert sorted((g.donation_id, g.amount_yen) for g in replacement.gifts) == [(kept.id, 5_000), (refunded.id, 5_000)]
    text = pdf_text(replacement.pdf)
    assert "¥10,000-" in text and "S-2027-000001（取消済み）に代わる" in text

    refunded.refunded_yen, refunded.status, refunded.receipt_needs_review = 8_000, DonationStatus.REFUNDED, True
    kept.refunded_yen, kept.status, kept.receipt_needs_review = 5_000, DonationStatus.REFUNDED, True
    assert apply_refunds(db_session, SYSTEM) == {"voided": 1, "unchanged": 1}
    assert replacement.status == ReceiptStatus.VOIDED and replacement.replaced_by_id is None


def test_direct_programmes_get_one_statement_per_issuer(
    app, app_ctx, db_session, run_day, configure_issuer, gift, project
):
    from kyodo_fund.certification.models import CertificationRecord, RecordKind

    configure_issuer("koeki")
    db_session.add(
        CertificationRecord(
            organisation_id=project.organisation_id,
            kind=RecordKind.NINTEI,
            notice_number="長野県指令7地域第45号",
            granted_on=datetime(2025, 4, 1).date(),
            valid_until=datetime(2030, 3, 31).date(),
        )
    )
    gift(project=None, donor_email="split@example.jp", amount_yen=4_000, paid_at=paid(2), receipt_preference=ANNUAL)
    gift(donor_email="split@example.jp", amount_yen=6_000, paid_at=paid(3), receipt_preference=ANNUAL)
    db_session.commit()
    app.config["PROGRAMME_RECIPIENT_MODEL"] = "direct"
    try:
        result = issue_annual(db_session, preflight_annual(db_session, 2026), SYSTEM)
    finally:
        app.config["PROGRAMME_RECIPIENT_MODEL"] = "fund"
    assert result.issued == 2
    by_issuer = {r.issuer_key: r for r in statements_of(db_session)}
    assert set(by_issuer) == {"fund", f"org:{project.organisation_id}"}
    assert by_issuer["fund"].amount_yen == 4_000 and by_issuer["fund"].display_number == "S-2027-000001"
    org_statement = by_issuer[f"org:{project.organisation_id}"]
    assert org_statement.amount_yen == 6_000 and org_statement.display_number == "S-2027-000001"
    text = pdf_text(org_statement.pdf)
    assert "長野県指令7地域第45号" in text and "税額控除" in text  # 認定NPO: the estimate mentions the credit


def test_worker_processes_render_the_same_bytes_in_the_same_number_order(
    app, app_ctx, db_session, run_day, configure_issuer, gift, monkeypatch, send_mail, mailbox
):
    from kyodo_fund.notifications.models import OutboxAttachment
    from kyodo_fund.receipts.pdf import render_receipt
    from kyodo_fund.receipts.services import snapshot_of

    configure_issuer("koeki")
    for n in range(6):
        gift(donor_email=f"w{n}@example.jp", amount_yen=1_000 * (n + 1), paid_at=paid(3), receipt_preference=ANNUAL)
    db_session.commit()
    monkeypatch.setitem(app.config, "STATEMENTS_RENDER_WORKERS", 2)
    monkeypatch.setitem(app.config, "STATEMENTS_RENDER_POOL_FROM", 1)
    monkeypatch.setitem(app.config, "STATEMENTS_COMMIT_EVERY", 4)
    assert issue_annual(db_session, preflight_annual(db_session, 2026), SYSTEM).issued == 6
    issued = statements_of(db_session)
    # Donor keys are issued in sorted order, so w0 … w5 hold S-2027-000001 … 000006 as before the pool.
    assert [(r.number, r.recipient_email) for r in issued] == [(n + 1, f"w{n}@example.jp") for n in range(6)]
    for receipt in issued:
        assert receipt.pdf == render_receipt(snapshot_of(receipt))
        assert receipt.display_number in pdf_text(receipt.pdf)
    # The outbox points at the stored PDF instead of keeping a second copy; the mail still carries it.
    attachments = db_session.scalars(select(OutboxAttachment)).all()
    assert sorted(a.source for a in attachments) == sorted(f"receipt:{r.id}" for r in issued)
    assert all(a.data is None for a in attachments)
    assert send_mail()["sent"] == 6
    sent = {m["To"]: next(m.iter_attachments()).get_content() for m in mailbox}
    assert all(sent[r.recipient_email] == r.pdf for r in issued)


def test_a_group_writes_per_statement_what_issuing_one_by_one_would(
    app, app_ctx, db_session, run_day, configure_issuer, gift
):
    """The run inserts a group with one statement per table; each statement still gets its own audit row, its own
    mail (in the donor's language, deduplicated by receipt, pointing at the stored PDF) and ``emailed_at``."""
    # Every statement has an address to mail: donors are keyed by account or by e-mail.
    from kyodo_fund.audit.models import AuditEntry
    from kyodo_fund.notifications.models import OutboxMessage

    configure_issuer("koeki")
    english = make_user(db_session, email="en@example.jp", locale="en")
    gift(user_id=english.id, amount_yen=3_000, paid_at=paid(2), receipt_preference=ANNUAL)
    gift(user_id=english.id, amount_yen=2_000, paid_at=paid(9), receipt_preference=ANNUAL)
    gift(donor_email="guest@example.jp", amount_yen=4_000, paid_at=paid(5), receipt_preference=ANNUAL)
    db_session.commit()

    plan = preflight_annual(db_session, 2026)
    result = issue_annual(db_session, plan, SYSTEM)
    db_session.commit()
    issued = statements_of(db_session)
    assert result.issued == len(issued) == 2
    assert [r.number for r in issued] == [1, 2]  # one block from the counter, in donor order

    audit = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "receipts.issue")).all()
    assert sorted((a.object_type, a.object_id) for a in audit) == sorted(("Receipt", str(r.id)) for r in issued)
    by_id = {a.object_id: a.after for a in audit}
    for receipt in issued:
        assert by_id[str(receipt.id)] == {
            "number": receipt.display_number,
            "amount_yen": receipt.amount_yen,
            "year": 2026,
            "gifts": len(receipt.gifts),
        }

    mails = {m.to_address: m for m in db_session.scalars(select(OutboxMessage)).all()}
    assert set(mails) == {r.recipient_email for r in issued}
    for receipt in issued:
        mail = mails[receipt.recipient_email]
        assert mail.dedupe_key == f"receipt:{receipt.id}"
        assert [a.source for a in mail.attachments] == [f"receipt:{receipt.id}"]
        assert [a.filename for a in mail.attachments] == [f"{receipt.display_number}.pdf"]
        assert receipt.emailed_at is not None
        assert receipt.display_number in mail.subject
    [to_english] = [r.recipient_email for r in issued if r.user_id == english.id]
    assert "2026年にいただいたご寄附の証明書" in mails["guest@example.jp"].body_text
    assert "2026年にいただいたご寄附の証明書" not in mails[to_english].body_text  # the account's language
    assert "2026" in mails[to_english].body_text


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("shift", [0, 1])
def test_groups_drawn_ahead_keep_only_drawings_with_their_real_number(
    app, app_ctx, db_session, run_day, configure_issuer, gift, monkeypatch, shift, depth
):
    """With workers, the next groups are drawn while this one is stored, with the numbers they should get. When
    someone else took a number in between (simulated by guessing one too far), every guess is thrown away and
    redrawn: the stored PDF always carries the stored number, and the numbers stay gapless."""
    from kyodo_fund.receipts.pdf import render_receipt
    from kyodo_fund.receipts.services import snapshot_of

    configure_issuer("koeki")
    for n in range(7):
        gift(donor_email=f"a{n}@example.jp", amount_yen=1_000 * (n + 1), paid_at=paid(4), receipt_preference=ANNUAL)
    db_session.commit()
    monkeypatch.setitem(app.config, "STATEMENTS_RENDER_WORKERS", 2)
    monkeypatch.setitem(app.config, "STATEMENTS_RENDER_POOL_FROM", 1)
    monkeypatch.setitem(app.config, "STATEMENTS_COMMIT_EVERY", 3)
    monkeypatch.setitem(app.config, "STATEMENTS_DRAW_AHEAD", depth)
    real_guess, guessed = statements._guess_ahead, []

    def guess(plan, drafts, settings, renderer, issued_on, last):
        made = real_guess(plan, drafts, settings, renderer, issued_on, {k: v + shift for k, v in last.items()})
        guessed.extend(g.numbered.number for g in made.values())
        return made

    monkeypatch.setattr(statements, "_guess_ahead", guess)
    assert issue_annual(db_session, preflight_annual(db_session, 2026), SYSTEM).issued == 7
    issued = statements_of(db_session)
    assert [r.number for r in issued] == list(range(1, 8))
    for receipt in issued:
        assert snapshot_of(receipt).number == receipt.display_number
        assert receipt.pdf == render_receipt(snapshot_of(receipt))
    # Groups of 3: the second and third groups (donors 4–7) were drawn ahead, right or wrong. Two groups ahead,
    # the third continues from the second's guesses (one shift more); one ahead, from the second's real numbers.
    assert guessed == [n + shift for n in range(4, 7)] + [7 + shift * depth]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_gift_refunded_after_its_group_was_loaded_is_printed_as_it_stands(
    app, app_ctx, db_session, run_day, configure_issuer, gift, monkeypatch, workers
):
    """Drafts are loaded a batch at a time (and, with workers, drawn groups ahead) before their group's
    transaction. A refund landing in between must reach the statement: the group rereads its gifts and reloads
    the donors whose gifts changed, and a drawing made from the old gifts is not kept."""
    from kyodo_fund.receipts.pdf import render_receipt
    from kyodo_fund.receipts.services import snapshot_of

    configure_issuer("koeki")
    gifts = [
        gift(donor_email=f"r{n}@example.jp", amount_yen=5_000, paid_at=paid(5), receipt_preference=ANNUAL)
        for n in range(4)
    ]
    db_session.commit()
    monkeypatch.setitem(app.config, "STATEMENTS_RENDER_WORKERS", workers)
    monkeypatch.setitem(app.config, "STATEMENTS_RENDER_POOL_FROM", 1)
    monkeypatch.setitem(app.config, "STATEMENTS_COMMIT_EVERY", 2)
    real, calls = statements._as_they_stand, []

    def refund_before_the_second_group(session, plan, items, cache, counts):
        calls.append([key for key, _, _ in items])
        if len(calls) == 2:  # the first group is committed; the second was loaded (and drawn) already
            gifts[2].refunded_yen, gifts[2].status = 2_000, DonationStatus.PARTIALLY_REFUNDED
            gifts[3].refunded_yen, gifts[3].status = 5_000, DonationStatus.REFUNDED
            session.flush()
        return real(session, plan, items, cache, counts)

    monkeypatch.setattr(statements, "_as_they_stand", refund_before_the_second_group)
    plan = preflight_annual(db_session, 2026)
    assert plan.ready == 4
    assert issue_annual(db_session, plan, SYSTEM).issued == 3
    assert calls[1] == ["e:r2@example.jp", "e:r3@example.jp"]
    issued = statements_of(db_session)
    assert [(r.recipient_email, r.amount_yen, r.number) for r in issued] == [
        ("r0@example.jp", 5_000, 1),
        ("r1@example.jp", 5_000, 2),
        ("r2@example.jp", 3_000, 3),
    ]
    partly = issued[2]
    assert partly.pdf == render_receipt(snapshot_of(partly))
    assert "¥3,000-" in pdf_text(partly.pdf)
    assert [g.amount_yen for g in partly.gifts] == [3_000]


def test_the_issue_pass_takes_the_drafts_the_preflight_loaded(
    app, app_ctx, db_session, run_day, configure_issuer, gift, monkeypatch
):
    """The preflight keeps each batch it loaded in a temporary file; the issue pass issues from it without loading
    the gifts again (only a donor whose gifts changed is loaded anew), and closes the file."""
    configure_issuer("koeki")
    for n in range(5):
        gift(donor_email=f"s{n}@example.jp", amount_yen=1_000 * (n + 1), paid_at=paid(3), receipt_preference=ANNUAL)
    db_session.commit()
    plan = preflight_annual(db_session, 2026, batch_size=2)
    spool = plan.spool
    assert spool is not None and spool.tell() > 0
    loads = []
    real_batch = statements._batch
    monkeypatch.setattr(statements, "_batch", lambda *args: loads.append(args[2]) or real_batch(*args))
    result = issue_annual(db_session, plan, SYSTEM, batch_size=50)  # the plan's own batches, whatever the size
    assert (result.issued, loads, spool.closed, plan.spool) == (5, [], True, None)
    assert [r.amount_yen for r in statements_of(db_session)] == [1_000, 2_000, 3_000, 4_000, 5_000]


def test_a_gift_recorded_between_preflight_and_issue_is_on_the_statement(
    app, app_ctx, db_session, run_day, configure_issuer, gift
):
    """Drafts come from the preflight, but each group rereads its donors' gifts: a gift of the year recorded in
    between goes on the donor's statement, as it would had the issue pass loaded the donor itself."""
    configure_issuer("koeki")
    gift(donor_email="between@example.jp", amount_yen=2_000, paid_at=paid(3), receipt_preference=ANNUAL)
    gift(donor_email="other@example.jp", amount_yen=1_000, paid_at=paid(3), receipt_preference=ANNUAL)
    db_session.commit()
    plan = preflight_annual(db_session, 2026)
    assert plan.ready == 2
    late = gift(donor_email="between@example.jp", amount_yen=7_000, paid_at=paid(11), receipt_preference=ANNUAL)
    db_session.commit()
    result = issue_annual(db_session, plan, SYSTEM)
    assert (result.issued, result.empty, result.skipped) == (2, 0, 0)
    by_email = {r.recipient_email: r for r in statements_of(db_session)}
    assert by_email["between@example.jp"].amount_yen == 9_000
    assert late.id in {g.donation_id for g in by_email["between@example.jp"].gifts}
    assert "¥9,000-" in pdf_text(by_email["between@example.jp"].pdf)
    assert by_email["other@example.jp"].amount_yen == 1_000


def test_a_donor_whose_gifts_were_all_refunded_in_between_is_counted_empty(
    app, app_ctx, db_session, run_day, configure_issuer, gift
):
    configure_issuer("koeki")
    gone = gift(donor_email="gone@example.jp", amount_yen=2_000, paid_at=paid(3), receipt_preference=ANNUAL)
    gift(donor_email="stays@example.jp", amount_yen=1_000, paid_at=paid(3), receipt_preference=ANNUAL)
    db_session.commit()
    plan = preflight_annual(db_session, 2026)
    gone.refunded_yen, gone.status = 2_000, DonationStatus.REFUNDED
    db_session.commit()
    result = issue_annual(db_session, plan, SYSTEM)
    assert (result.issued, result.empty, result.skipped) == (1, 1, 0)
    assert [r.recipient_email for r in statements_of(db_session)] == ["stays@example.jp"]


def test_preflight_on_read_only_workers_finds_what_one_process_finds(
    app, committed_db, run_day, configure_issuer, monkeypatch
):
    """From STATEMENTS_PREFLIGHT_POOL_FROM donors the batches are checked by read-only worker processes; the plan
    (donors, who is ready, who is blocked and why, who already has a statement) must be the one a single process
    makes, in the same order."""
    from flask_babel import force_locale

    from tests.factories import make_donation

    configure_issuer("koeki_cert")  # needs the donor's address
    account = make_user(committed_db, email="account@example.jp", name="口座 太郎")
    for n in range(9):
        fields = {"donor_email": f"p{n}@example.jp", "receipt_preference": ANNUAL, "paid_at": paid(2 + n % 9)}
        if n % 4 == 1:
            fields["donor_address"] = ""  # blocked: no address, none on a profile either
        if n % 4 == 2:
            fields["donor_name"] = "上様"  # blocked: not a name
        make_donation(committed_db, None, **fields)
    make_donation(committed_db, None, user_id=account.id, receipt_preference=ANNUAL, paid_at=paid(6))
    committed_db.commit()
    with app.test_request_context():
        issue_annual(committed_db, preflight_annual(committed_db, 2026, donor_email="p0@example.jp"), SYSTEM)
    committed_db.commit()

    from kyodo_fund.jobs import workers

    pools, real_pool = [], workers.read_only_pool

    def spy(app_, count):
        pools.append(count)
        return real_pool(app_, count)

    monkeypatch.setattr(workers, "read_only_pool", spy)

    def plan(pool_from: int, locale: str):
        monkeypatch.setitem(app.config, "STATEMENTS_PREFLIGHT_WORKERS", 2)
        monkeypatch.setitem(app.config, "STATEMENTS_PREFLIGHT_POOL_FROM", pool_from)
        with app.test_request_context(), force_locale(locale):
            found = preflight_annual(committed_db, 2026, batch_size=3)
            committed_db.rollback()
        return found

    messages = {}
    for locale in ("ja", "en"):
        alone, pooled = plan(10_000, locale), plan(1, locale)
        assert len(alone.keys) == 10 and alone.already_issued == 1 and alone.ready == 5
        assert len(alone.blocked) == 4
        assert (pooled.keys, pooled.ready, pooled.already_issued) == (alone.keys, alone.ready, alone.already_issued)
        assert list(pooled.blocked.items()) == list(alone.blocked.items())
        messages[locale] = {p for _, problems in pooled.blocked.values() for p in problems}
    assert pools == [2, 2]  # the pooled plans ran on two workers, the others in this process
    # The workers report in the caller's language.
    assert "寄附者の住所がありません" in messages["ja"]
    assert messages["en"].isdisjoint(messages["ja"])


def test_a_gift_recorded_after_the_statement_gets_a_supplement(
    app, app_ctx, db_session, run_day, configure_issuer, gift
):
    """A late gift of the year (an offline transfer entered in February, say) is on no statement yet: the next run
    issues a supplement for it alone, marked as such, instead of skipping the donor because a statement exists."""
    from kyodo_fund.receipts.pdf import SUPPLEMENT

    configure_issuer("koeki")
    gift(donor_email="late@example.jp", amount_yen=3_000, paid_at=paid(4), receipt_preference=ANNUAL)
    gift(donor_email="late@example.jp", amount_yen=4_000, paid_at=paid(5), receipt_preference=ANNUAL)
    db_session.commit()
    assert issue_annual(db_session, preflight_annual(db_session, 2026), SYSTEM).issued == 1
    db_session.commit()
    late = gift(donor_email="late@example.jp", amount_yen=5_000, paid_at=paid(12, 20), receipt_preference=ANNUAL)
    db_session.commit()

    plan = preflight_annual(db_session, 2026)
    assert (plan.ready, plan.already_issued) == (1, 0)
    result = issue_annual(db_session, plan, SYSTEM)
    assert (result.issued, result.skipped) == (1, 0)
    first, supplement = statements_of(db_session)
    assert (first.amount_yen, supplement.amount_yen) == (7_000, 5_000)
    assert [g.donation_id for g in supplement.gifts] == [late.id]
    assert supplement.statement_key == f"{first.statement_key}|+{late.id}"
    assert supplement.snapshot["flags"]["supplement"] is True and first.snapshot["flags"]["supplement"] is False
    assert SUPPLEMENT in pdf_text(supplement.pdf) and SUPPLEMENT not in pdf_text(first.pdf)

    again = issue_annual(db_session, preflight_annual(db_session, 2026), SYSTEM)
    assert (again.issued, again.skipped) == (0, 1)
    assert len(statements_of(db_session)) == 2
