import pytest
from jinja2 import ChoiceLoader, DictLoader


@pytest.fixture
def templates(app):
    """A throwaway mail template so these tests do not depend on any domain's mails."""
    original = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader(
        [
            original,
            DictLoader(
                {
                    "emails/test_plain/subject.txt": "{{ name }}様へのお知らせ\n",
                    "emails/test_plain/body.txt": "{{ name }}様\nテストです。\n",
                    "emails/test_plain/body.html": "<p>{{ name }}様</p>",
                }
            ),
        ]
    )
    yield
    app.jinja_env.loader = original
