import pytest

from kyodo_fund.accounts.models import UserRole
from tests.conftest import login
from tests.factories import make_user

#: (path, anonymous, any signed-in user). Account pages concern only oneself, so every role is alike.
GET_PAGES = [
    ("/account/signup", 200, 302),
    ("/account/login", 200, 302),
    ("/account/password/forgot", 200, 200),
    ("/account/profile", 302, 200),
    ("/account/password", 302, 200),
    ("/account/confirm/no-such-token", 400, 400),
    ("/account/password/reset/no-such-token", 400, 400),
]


@pytest.mark.parametrize(("path", "anonymous", "_signed_in"), GET_PAGES)
def test_pages_for_anonymous_visitors(client, path, anonymous, _signed_in):
    assert client.get(path).status_code == anonymous


@pytest.mark.parametrize("role", list(UserRole))
def test_pages_for_every_role(client, db_session, role):
    user = make_user(db_session, role=role)
    db_session.commit()
    login(client, user.email)
    for path, _anonymous, signed_in in GET_PAGES:
        assert client.get(path).status_code == signed_in, path


@pytest.mark.parametrize("path", ["/account/logout", "/account/confirmation/resend"])
def test_post_only_endpoints_refuse_get_and_posts_without_a_token(client, path):
    assert client.get(path).status_code == 405
    assert client.post(path).status_code == 400
