from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.notifications.models import OutboxAttachment, OutboxMessage

PENDING_KEY = "kyodo_outbox_ids"


@dataclass(frozen=True)
class Stored:
    """Attachment content kept elsewhere, named ``<kind>:<id>``; read when the mail is sent."""

    source: str


#: ``<kind>`` → a function giving the bytes of ``<kind>:<id>`` (registered by the package that owns them).
#: ``None`` means the content is gone; the mail then goes out without that attachment.
_RESOLVERS: dict[str, Callable[[Session, str], bytes | None]] = {}


def register_attachment_source(kind: str, resolver: Callable[[Session, str], bytes | None]) -> None:
    _RESOLVERS[kind] = resolver


def attachment_data(session: Session, attachment: OutboxAttachment) -> bytes | None:
    if attachment.source is None:
        return attachment.data
    kind, _, ident = attachment.source.partition(":")
    return _RESOLVERS[kind](session, ident)


def queue_email(
    session: Session,
    template: str,
    *,
    to: str,
    context: dict[str, Any] | None = None,
    locale: str = "ja",
    dedupe_key: str | None = None,
    attachments: list[tuple[str, str, bytes | Stored]] | None = None,
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
        stored = data.source if isinstance(data, Stored) else None
        message.attachments.append(
            OutboxAttachment(filename=filename, content_type=content_type, data=None if stored else data, source=stored)
        )
    session.add(message)
    session.flush()
    session.info.setdefault(PENDING_KEY, []).append(message.id)
    return message
