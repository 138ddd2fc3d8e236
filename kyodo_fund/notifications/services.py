from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import insert, select
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


@dataclass(frozen=True)
class Email:
    """A message rendered and ready for the outbox."""

    template: str
    to: str
    subject: str
    body_text: str
    body_html: str | None
    dedupe_key: str | None = None
    attachments: tuple[tuple[str, str, bytes | Stored], ...] = ()


def render_email(
    template: str,
    *,
    to: str,
    context: dict[str, Any] | None = None,
    locale: str = "ja",
    dedupe_key: str | None = None,
    attachments: list[tuple[str, str, bytes | Stored]] | None = None,
) -> Email:
    """Render ``templates/emails/<template>/`` in ``locale`` (subject, text, and HTML when the template has one)."""
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
    return Email(template, to, " ".join(subject.split()), text, html, dedupe_key, tuple(attachments or ()))


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
    email = render_email(
        template, to=to, context=context, locale=locale, dedupe_key=dedupe_key, attachments=attachments
    )
    message = OutboxMessage(**_message_fields(email))
    for filename, content_type, data in email.attachments:
        message.attachments.append(OutboxAttachment(**_attachment_fields(filename, content_type, data)))
    session.add(message)
    session.flush()
    session.info.setdefault(PENDING_KEY, []).append(message.id)
    return message


def _message_fields(email: Email) -> dict[str, Any]:
    return {
        "template": email.template,
        "to_address": email.to,
        "subject": email.subject,
        "body_text": email.body_text,
        "body_html": email.body_html,
        "dedupe_key": email.dedupe_key,
    }


def _attachment_fields(filename: str, content_type: str, data: bytes | Stored) -> dict[str, Any]:
    stored = data.source if isinstance(data, Stored) else None
    return {
        "filename": filename,
        "content_type": content_type,
        "data": None if stored else data,
        "source": stored,
    }


def store_emails(session: Session, emails: list[Email]) -> list[int]:
    """Store many rendered messages with one multi-row INSERT for the messages and one for their attachments.

    For batch runs (the annual statements queue thousands): no per-message flush and no dedupe lookup, because the
    caller's keys are new by construction (they name rows inserted in the same transaction); the unique
    ``dedupe_key`` still refuses a duplicate, failing the whole transaction rather than mailing twice.
    """
    if not emails:
        return []
    rows = [_message_fields(e) for e in emails]
    ids = list(session.scalars(insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True), rows))
    attachments = [
        {"message_id": message_id, **_attachment_fields(*attachment)}
        for message_id, email in zip(ids, emails, strict=True)
        for attachment in email.attachments
    ]
    if attachments:
        session.execute(insert(OutboxAttachment), attachments)
    session.info.setdefault(PENDING_KEY, []).extend(ids)
    return ids
