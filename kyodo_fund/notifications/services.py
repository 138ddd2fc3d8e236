from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel import Locale
from flask import current_app
from flask_babel import force_locale, get_locale, get_translations
from jinja2 import Environment, TemplateNotFound
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


@dataclass(frozen=True)
class _MailLocale:
    """What rendering mails in one locale needs, worked out once per app and locale."""

    locale: Locale
    #: Template variables that shadow Flask-Babel's global gettext functions.
    gettext: dict[str, Any]


def _mail_locale(locale: str) -> _MailLocale:
    """``locale`` parsed, and gettext bound straight to its catalogue.

    Flask-Babel's template gettext looks the current locale and catalogue up through the app context on every
    ``_()`` (a dozen per mail); the batch runs render mails by the hundred thousand. The catalogue is the very object
    Flask-Babel uses (same directories, domain and cache), and the functions are wrapped as Flask-Babel installs
    them: new-style gettext, so autoescaping and ``%``-formatting of the keyword arguments are Jinja's own.
    """
    mail_locales = current_app.extensions.setdefault("kyodo_fund.mail_locales", {})
    found = mail_locales.get(locale)
    if found is not None:
        return found
    with force_locale(locale):
        parsed, translations = get_locale(), get_translations()
    # Jinja wraps the callables for new-style gettext as it installs them into an environment's globals; a scratch
    # environment gives those wrappers without touching the app's. It renders nothing: the wrappers take autoescaping
    # from the template being rendered.
    scratch = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    scratch.install_gettext_callables(
        gettext=translations.ugettext,
        ngettext=translations.ungettext,
        newstyle=True,
        pgettext=translations.upgettext,
        npgettext=translations.unpgettext,
    )
    gettext = {name: scratch.globals[name] for name in ("gettext", "ngettext", "pgettext", "npgettext")}
    # ``_`` is Jinja's alias that resolves ``gettext`` on every call; binding it directly is the same function.
    gettext["_"] = gettext["gettext"]
    mail_locales[locale] = found = _MailLocale(parsed, gettext)
    return found


def render_email(
    template: str,
    *,
    to: str,
    context: dict[str, Any] | None = None,
    locale: str = "ja",
    dedupe_key: str | None = None,
    attachments: list[tuple[str, str, bytes | Stored]] | None = None,
) -> Email:
    """Render ``templates/emails/<template>/`` in ``locale`` (subject, text, and HTML when the template has one).

    The same output as Flask's ``render_template`` inside ``force_locale``, for under half the cost: the context
    processors run once for the three templates, Flask's render signals are not sent, and gettext is the locale's
    own (``_mail_locale``). The locale stays forced while rendering for whatever else reads it (lazy labels,
    ``current_locale()``, date filters).
    """
    mail_locale = _mail_locale(locale)
    env = current_app.jinja_env
    with force_locale(mail_locale.locale):
        ctx = dict(context or {})
        current_app.update_template_context(ctx)
        # Below the caller's and the context processors' variables, as globals are.
        ctx = {**mail_locale.gettext, **ctx}
        subject = env.get_template(f"emails/{template}/subject.txt").render(ctx).strip()
        text = env.get_template(f"emails/{template}/body.txt").render(ctx)
        html_name = f"emails/{template}/body.html"
        try:
            html_template = env.get_template(html_name)
        except TemplateNotFound as exc:
            if exc.name != html_name:  # only a missing body.html makes a text-only message
                raise
            html_template = None
        # Rendered outside the ``try``: a template it includes or extends that is missing is an error, not a reason
        # to send the mail without its HTML part.
        html = html_template.render(ctx) if html_template is not None else None
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
