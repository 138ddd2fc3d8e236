"""Delivers outbox messages. Each message is locked, sent and marked in its own transaction,
so a crash between SMTP and the commit can at worst resend one message, never lose one."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.db import utcnow
from kyodo_fund.notifications.models import OutboxMessage, OutboxStatus
from kyodo_fund.notifications.services import attachment_data


def build_mime(message: OutboxMessage, sender: str, session: Session | None = None) -> EmailMessage:
    """The MIME message; ``session`` reads attachments stored elsewhere (``OutboxAttachment.source``)."""
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False)
    mime["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    mime.set_content(message.body_text)
    if message.body_html:
        mime.add_alternative(message.body_html, subtype="html")
    for att in message.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        data = attachment_data(session, att) if session is not None else att.data
        if data is None:
            continue
        mime.add_attachment(data, maintype=maintype, subtype=subtype, filename=att.filename)
    return mime


def deliver(mime: EmailMessage, config: dict[str, Any]) -> None:
    backend = config.get("MAIL_BACKEND", "smtp")
    if backend == "console":
        print(mime.as_string())  # noqa: T201 - the console backend is for local runs
        return
    if backend == "file":
        folder = Path(config["MAIL_FILE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{utcnow():%Y%m%dT%H%M%S%f}-{mime['To'].replace('@', '_at_')}.eml"
        (folder / name).write_bytes(bytes(mime))
        return
    with smtplib.SMTP(config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=config.get("SMTP_TIMEOUT", 10)) as smtp:
        if config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("SMTP_USERNAME"):
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        smtp.send_message(mime)


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2**attempts, 240))


def send_due(session: Session, config: dict[str, Any], *, ids: list[int] | None = None, limit: int = 200) -> dict:
    """Send pending messages whose time has come (or exactly ``ids``). Commits per message."""
    counts = {"sent": 0, "failed": 0, "retry": 0}
    stmt = select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.PENDING)
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    else:
        stmt = stmt.where(OutboxMessage.next_attempt_at <= utcnow())
    candidate_ids = list(session.scalars(stmt.order_by(OutboxMessage.id).limit(limit)))
    session.commit()
    lock_stmt = select(OutboxMessage).with_for_update(skip_locked=True)
    for message_id in candidate_ids:
        message = session.scalar(
            lock_stmt.where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING)
        )
        if message is None:  # another sender took it
            session.rollback()
            continue
        message.attempts += 1
        try:
            deliver(build_mime(message, config["MAIL_DEFAULT_SENDER"], session), config)
        except (OSError, smtplib.SMTPException) as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= config.get("MAIL_MAX_ATTEMPTS", 8):
                message.status = OutboxStatus.FAILED
                counts["failed"] += 1
            else:
                message.next_attempt_at = utcnow() + _backoff(message.attempts)
                counts["retry"] += 1
        else:
            message.status = OutboxStatus.SENT
            message.sent_at = utcnow()
            message.last_error = None
            counts["sent"] += 1
        session.commit()
    return counts
