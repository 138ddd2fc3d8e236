"""The one schedule table. Each job is ``func(session, config) -> dict`` and idempotent.

Cron times are Asia/Tokyo. A domain adds its job by adding a row here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    #: "package.module:function", resolved at run time (APScheduler needs textual references).
    func: str
    #: APScheduler trigger name and its arguments.
    trigger: str
    trigger_args: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    #: How long one run may hold the lease before another process may take over.
    lease_seconds: int = 3600


SCHEDULE: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        id="mail.send",
        func="kyodo_fund.notifications.tasks:send_outbox",
        trigger="interval",
        trigger_args={"seconds": 30},
        description="送信待ちメールを送る（失敗時は間隔をあけて再送）",
        lease_seconds=600,
    ),
    ScheduledJob(
        id="projects.publish_due",
        func="kyodo_fund.projects.tasks:publish_due_projects",
        trigger="cron",
        trigger_args={"hour": 0, "minute": 5},
        description="開始日を迎えた承認済みの寄附募集事業を公開する",
    ),
    ScheduledJob(
        id="projects.close_ended",
        func="kyodo_fund.projects.tasks:close_ended_projects",
        trigger="cron",
        trigger_args={"hour": 0, "minute": 5},
        description="終了日を過ぎた寄附募集事業の募集を終了する",
    ),
    ScheduledJob(
        id="donations.reconcile_stripe",
        func="kyodo_fund.donations.reconciliation:reconcile_stripe",
        trigger="cron",
        trigger_args={"hour": 3, "minute": 0},
        description="Stripe と照合し、届かなかった通知の再処理と未確定の寄附の確認を行う",
    ),
    ScheduledJob(
        id="certification.expire_lapsed",
        func="kyodo_fund.certification.tasks:expire_lapsed_certifications",
        trigger="cron",
        trigger_args={"hour": 0, "minute": 10},
        description="有効期間が満了し更新申請のない認定・特例認定を失効として記録する",
    ),
    ScheduledJob(
        id="certification.reminders",
        func="kyodo_fund.certification.tasks:send_certification_reminders",
        trigger="cron",
        trigger_args={"hour": 7, "minute": 0},
        description="認定の更新・有効期間満了・事業報告書の提出・県指定の再確認の期限を団体に知らせる",
    ),
    ScheduledJob(
        id="receipts.issue",
        func="kyodo_fund.receipts.tasks:issue_due_receipts",
        trigger="interval",
        trigger_args={"seconds": 60},
        description="返金・チャージバックのあった領収書を取消・差替えし、未発行の領収書を発行してメールで送る",
        lease_seconds=900,
    ),
    ScheduledJob(
        id="receipts.annual",
        func="kyodo_fund.receipts.tasks:run_annual_statements",
        # Daily: the job itself acts from STATEMENTS_RUN_ON (configurable) through the catch-up days.
        trigger="cron",
        trigger_args={"hour": 4, "minute": 30},
        description="STATEMENTS_RUN_ON から前年分の年間まとめ（寄附金受領証明書）を発行する",
        lease_seconds=6 * 3600,
    ),
)


def find(job_id: str) -> ScheduledJob:
    for job in SCHEDULE:
        if job.id == job_id:
            return job
    raise KeyError(job_id)
