from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.notifications.models import OutboxAttachment, OutboxMessage

PENDING_KEY = "kyodo_outbox_ids"


def queue_email(
    session: Session,
    template: str,
    *,
    to: str,
    context: dict[str, Any] | None = None,
    locale: str = "ja",
    dedupe_key: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> OutboxMessage | None:
    """Render ``templates/emails/<template>/`` now and store the message in the outbox.

    Returns None when a message with the same ``dedupe_key`` already exists.
    """
    if dedupe_key is not None:
        existing = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return None
    ctx = dict(context or {})
    with force_locale(locale):
        subject = render_template(f"emails/{template}/subject.txt", **ctx).strip()
        text = render_template(f"emails/{template}/body.txt", **ctx)
        try:
            html = render_template(f"emails/{template}/body.html", **ctx)
        except Exception as exc:  # a text-only message is fine
            if type(exc).__name__ != "TemplateNotFound":
                raise
            html = None
    message = OutboxMessage(
        template=template,
        to_address=to,
        subject=" ".join(subject.split()),
        body_text=text,
        body_html=html,
        dedupe_key=dedupe_key,
    )
    for filename, content_type, data in attachments or []:
        message.attachments.append(OutboxAttachment(filename=filename, content_type=content_type, data=data))
    session.add(message)
    session.flush()
    session.info.setdefault(PENDING_KEY, []).append(message.id)
    return message
