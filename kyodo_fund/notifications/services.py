from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel import Locale
from flask import current_app
from flask_babel import force_locale, get_locale, get_translations
from jinja2 import Environment, Template, TemplateNotFound, pass_context
from jinja2.runtime import Context
from markupsafe import Markup
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
    Flask-Babel uses (same directories, domain and cache), and the functions behave as the ones Flask-Babel installs:
    Jinja's new-style wrappers (autoescaping and ``%``-formatting of the keyword arguments), and for ``gettext``, the
    one the mails call, ``_remembering_gettext``, which returns what Jinja's wrapper returns.
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
    gettext = {name: scratch.globals[name] for name in ("ngettext", "pgettext", "npgettext")}
    # ``_`` is Jinja's alias that resolves ``gettext`` on every call; binding it directly is the same function.
    gettext["gettext"] = gettext["_"] = _remembering_gettext(translations.ugettext)
    mail_locales[locale] = found = _MailLocale(parsed, gettext)
    return found


#: Messages one locale's ``_remembering_gettext`` keeps at most: the mails' own are a few hundred.
_REMEMBERED = 2_000


def _remembering_gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    """Jinja's new-style ``gettext`` for one catalogue, remembering what it made of each message.

    Returns what the wrapper Jinja installs returns: the translation, made ``Markup`` in an autoescaping template and
    always ``%``-formatted with the keyword arguments (escaped by ``Markup``). Jinja's wrapper asks the template context
    to call the catalogue, then builds the ``Markup`` and formats it again on every call; a mail makes some fifteen such
    calls, nearly all with the same dozen messages, and they were a quarter of its rendering time. The catalogue of a
    locale does not change while the app runs, so the ``Markup`` (or text) of each message is kept, and so is the
    formatted result of a message used without arguments. Positional-only parameters, so an argument may be called
    ``context`` or ``string``.
    """
    messages: dict[tuple[str, bool], str] = {}
    plain: dict[tuple[str, bool], str] = {}

    @pass_context
    def gettext(context: Context, string: str, /, **variables: Any) -> str:
        key = (string, context.eval_ctx.autoescape)
        if not variables:
            found = plain.get(key)
            if found is not None:
                return found
        message = messages.get(key)
        if message is None:
            # The app's own catalogue, trusted as markup exactly as Jinja's wrapper trusts it.
            message = Markup(translate(string)) if key[1] else translate(string)  # noqa: S704
            if len(messages) < _REMEMBERED:
                messages[key] = message
        formatted = message % variables
        if not variables and len(plain) < _REMEMBERED:
            plain[key] = formatted
        return formatted

    return gettext


def _render(template: Template, context: dict[str, Any], variables: dict[str, Any]) -> str:
    """``template.render(context)``, given ``variables``: the environment's globals overlaid with ``context``.

    ``render`` makes a template's variables anew for each template: its globals (a ``ChainMap`` of its own over the
    environment's, read key by key) overlaid with the context, which was a quarter of the rendering time of the receipt
    mail. The parts of a mail share one ``variables`` instead, built once. Jinja's low-level API for this is the one it
    uses itself for an ``{% include %}``: a shared context takes the dict as it is, and rendering never writes to it. A
    template with globals of its own, or an async environment, renders the usual way.
    """
    env = template.environment
    chain = template.globals
    if env.is_async or not (
        isinstance(chain, ChainMap) and len(chain.maps) == 2 and not chain.maps[0] and chain.maps[1] is env.globals
    ):
        return template.render(context)
    try:
        return env.concat(template.root_render_func(template.new_context(variables, shared=True)))
    except Exception:
        # As ``render`` does: the traceback points into the template source, not into its compiled code.
        env.handle_exception()


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

    The same output as Flask's ``render_template`` inside ``force_locale``, for a quarter of the cost: the context
    processors run once for the three templates, and so does the merging of the globals (``_render``), Flask's
    render signals are not sent, and gettext is the locale's own (``_mail_locale``) and remembers its messages. The
    locale stays forced while rendering for whatever else reads it (lazy labels, ``current_locale()``, date
    filters).
    """
    mail_locale = _mail_locale(locale)
    env = current_app.jinja_env
    with force_locale(mail_locale.locale):
        ctx = dict(context or {})
        current_app.update_template_context(ctx)
        # Below the caller's and the context processors' variables, as globals are.
        ctx = {**mail_locale.gettext, **ctx}
        variables = {**env.globals, **ctx}
        subject = _render(env.get_template(f"emails/{template}/subject.txt"), ctx, variables).strip()
        text = _render(env.get_template(f"emails/{template}/body.txt"), ctx, variables)
        html_name = f"emails/{template}/body.html"
        try:
            html_template = env.get_template(html_name)
        except TemplateNotFound as exc:
            if exc.name != html_name:  # only a missing body.html makes a text-only message
                raise
            html_template = None
        # Rendered outside the ``try``: a template it includes or extends that is missing is an error, not a reason
        # to send the mail without its HTML part.
        html = _render(html_template, ctx, variables) if html_template is not None else None
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
