"""The two shortcuts of ``render_email`` give what ``render_template`` gives, in the cases the mails themselves do not
reach: gettext remembering its messages (cold and warm, past its cap, ``%%``, missing arguments, arguments named
like its own parameters) and the parts of a mail sharing one set of variables (a ``{% set %}`` in one part, an
``{% include %}``, a template with globals of its own, the line an error points at).
"""

from __future__ import annotations

import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import render_template
from flask_babel import force_locale
from jinja2 import Environment

from kyodo_fund.notifications import services
from kyodo_fund.notifications.services import render_email
from tests.notifications.test_render_email import CASES, CONTEXTS, LOCALES, reference, rendered

PARTS = ("subject.txt", "body.txt", "body.html")


def forget_mail_locales(app) -> None:
    """The next ``render_email`` builds each locale's gettext anew, with nothing remembered."""
    app.extensions.pop("kyodo_fund.mail_locales", None)


@pytest.mark.parametrize(("template", "index", "locale"), CASES)
def test_every_mail_renders_the_same_cold_and_warm(app, app_ctx, template, index, locale):
    context = CONTEXTS[template][index]
    expected = reference(template, context, locale)
    forget_mail_locales(app)
    assert rendered(template, context, locale) == expected
    assert rendered(template, context, locale) == expected


def test_past_the_cap_messages_are_translated_each_time(app, app_ctx, monkeypatch):
    monkeypatch.setattr(services, "_REMEMBERED", 1)
    forget_mail_locales(app)
    try:
        for _ in range(2):
            for locale in LOCALES:
                for context in CONTEXTS["receipt_issued"]:
                    assert rendered("receipt_issued", context, locale) == reference("receipt_issued", context, locale)
        remembered = app.extensions["kyodo_fund.mail_locales"]["ja"].gettext["gettext"]
        assert remembered is app.extensions["kyodo_fund.mail_locales"]["ja"].gettext["_"]
    finally:
        forget_mail_locales(app)


def render_template_parts(template: str, context: dict, locale: str) -> tuple[str, str, str]:
    with force_locale(locale):
        subject, text, html = (render_template(f"emails/{template}/{part}", **context) for part in PARTS)
    return " ".join(subject.strip().split()), text, html


@pytest.mark.parametrize("locale", LOCALES)
def test_gettext_formats_escapes_and_shares_variables_as_render_template_does(app, app_ctx, mail_templates, locale):
    mail_templates(
        {
            "test_shortcuts/subject.txt": '{% set name = "件名の<変数>" %}{{ _("100%% 届きました") }} {{ name }}',
            "test_shortcuts/body.txt": (
                '{{ _("%(name)s 様", name=name) }}\n'
                '{{ _("%(context)s と %(string)s", context=name, string="<&>") }}\n'
                '{{ _("100%% 届きました") }} {{ _("金額") }}\n'
            ),
            "test_shortcuts/body.html": (
                '<p>{{ _("%(name)s 様", name=name) }}</p><p>{{ _("100%% 届きました") }} {{ _("金額") }}</p>'
                '{% autoescape false %}{{ _("%(name)s 様", name=name) }}{% endautoescape %}'
                '{% include "emails/test_shortcuts/part.html" %}'
            ),
            "test_shortcuts/part.html": "<i>{{ name }} {{ current_locale() }}</i>",
        }
    )
    context = {"name": "寄附 <太郎> & 花子"}
    expected = render_template_parts("test_shortcuts", context, locale)
    for _ in range(2):  # cold, then from what gettext remembered
        email = render_email("test_shortcuts", to="a@example.jp", context=context, locale=locale)
        assert (email.subject, email.body_text, email.body_html) == expected
    # What the comparison stands on: the subject's ``{% set %}`` stays in the subject, escaping follows the part
    # (and the autoescape-off block inside it), and the messages are translated.
    greeting, amount = {"ja": ("寄附 <太郎> & 花子 様", "金額"), "en": ("Dear 寄附 <太郎> & 花子", "Amount")}[locale]
    escaped = greeting.replace("<", "&lt;").replace(">", "&gt;").replace("& ", "&amp; ")
    assert email.subject == "100% 届きました 件名の<変数>"
    assert email.body_text == f"{greeting}\n寄附 <太郎> & 花子 と <&>\n100% 届きました {amount}"
    assert email.body_html == (
        f"<p>{escaped}</p><p>100% 届きました {amount}</p>{greeting}<i>寄附 &lt;太郎&gt; &amp; 花子 {locale}</i>"
    )


def test_a_message_missing_its_argument_fails_both_ways(app, app_ctx, mail_templates):
    mail_templates(
        {
            "test_missing/subject.txt": "件名",
            "test_missing/body.txt": '{{ _("%(name)s 様") }}',
            "test_missing/body.html": "<p></p>",
        }
    )
    for _ in range(2):
        with pytest.raises(KeyError, match="name"):
            render_email("test_missing", to="a@example.jp")
        with pytest.raises(KeyError, match="name"):
            render_template_parts("test_missing", {}, "ja")


def test_a_template_with_globals_of_its_own_renders_with_them(app, app_ctx, mail_templates):
    mail_templates(
        {
            "test_globals/subject.txt": "{{ label }}",
            "test_globals/body.txt": "{{ label }} {{ name }}",
            "test_globals/body.html": "<p>{{ label }} {{ name }}</p>",
        }
    )
    app.jinja_env.get_template("emails/test_globals/body.txt", globals={"label": "<自前>"})
    app.jinja_env.get_template("emails/test_globals/body.html", globals={"label": "<自前>"})
    context = {"name": "花子"}
    email = render_email("test_globals", to="a@example.jp", context=context)
    assert (email.subject, email.body_text, email.body_html) == render_template_parts("test_globals", context, "ja")
    assert email.subject == "" and email.body_text == "<自前> 花子" and email.body_html == "<p>&lt;自前&gt; 花子</p>"


def test_an_error_points_at_the_template_line_as_render_template_does(app, app_ctx, mail_templates):
    mail_templates(
        {
            "test_error/subject.txt": "件名",
            "test_error/body.txt": "一行目\n二行目\n{{ 10 // n }}\n",
            "test_error/body.html": "<p></p>",
        }
    )

    def last_frame(render) -> tuple[str, int]:
        with pytest.raises(ZeroDivisionError) as info:
            render()
        frame = traceback.extract_tb(info.value.__traceback__)[-1]
        return frame.filename, frame.lineno

    ours = last_frame(lambda: render_email("test_error", to="a@example.jp", context={"n": 0}))
    assert ours == last_frame(lambda: render_template_parts("test_error", {"n": 0}, "ja"))
    assert ours[1] == 3


@pytest.mark.parametrize("enable_async", [False, True])
def test_render_takes_the_globals_the_template_would(enable_async):
    """``_render`` is ``Template.render`` whichever globals a template holds: its own, or a dict the environment has
    since replaced (templates keep the one they were loaded with)."""
    env = Environment(autoescape=True, enable_async=enable_async)
    env.globals.update(where="環境", shared="共有")
    kept = env.from_string("{{ where }} {{ shared }} {{ name }}")
    own = env.from_string("{{ where }} {{ shared }} {{ name }}", globals={"where": "自前"})
    env.globals = {"where": "新しい環境", "shared": "新しい共有"}
    plain = env.from_string("{{ where }} {{ shared }} {{ name }}")
    context = {"name": "花子"}
    variables = {**env.globals, **context}

    def render_both() -> tuple[list[str], list[str]]:
        ours = [services._render(template, context, variables) for template in (plain, kept, own)]
        return ours, [template.render(context) for template in (plain, kept, own)]

    # An async template's render() runs its own event loop, which it cannot do in a thread whose loop is running
    # (the browser tests leave one in the worker's main thread): render in a thread of its own.
    with ThreadPoolExecutor(1) as thread:
        results, expected = thread.submit(render_both).result()
    assert results == expected
    assert results == ["新しい環境 新しい共有 花子", "環境 共有 花子", "自前 共有 花子"]
