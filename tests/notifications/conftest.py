import pytest
from jinja2 import ChoiceLoader, DictLoader


@pytest.fixture
def mail_templates(app):
    """``mail_templates({"<name>/<part>": source, ...})`` adds throwaway mails under ``emails/`` (replacing any added
    before in the same test); the app's own loader comes back afterwards."""
    original = app.jinja_env.loader

    def add(sources: dict[str, str]) -> None:
        app.jinja_env.loader = ChoiceLoader(
            [original, DictLoader({f"emails/{name}": source for name, source in sources.items()})]
        )

    yield add
    app.jinja_env.loader = original


@pytest.fixture
def templates(mail_templates):
    """A throwaway mail template so these tests do not depend on any domain's mails."""
    mail_templates(
        {
            "test_plain/subject.txt": "{{ name }}様へのお知らせ\n",
            "test_plain/body.txt": "{{ name }}様\nテストです。\n",
            "test_plain/body.html": "<p>{{ name }}様</p>",
        }
    )
