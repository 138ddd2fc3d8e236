"""The anonymous page cache: hits skip rendering, signed-in visitors and flashes never hit it."""

import pytest

from kyodo_fund import pagecache
from tests.conftest import login
from tests.factories import make_org, make_project, make_user


@pytest.fixture
def cache_on(app):
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 30
    pagecache.store.clear()
    yield
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 0
    pagecache.store.clear()


def test_anonymous_list_is_served_from_cache_without_a_cookie(client, db_session, cache_on):
    make_project(db_session, make_org(db_session), title="最初の事業")
    db_session.commit()
    first = client.get("/projects/")
    assert first.headers["X-Page-Cache"] == "miss"
    assert "Set-Cookie" not in first.headers, "a cookie would make the page uncacheable and per-visitor"
    assert 'name="csrf-token"' not in first.get_data(as_text=True)
    make_project(db_session, make_org(db_session), title="後から来た事業")
    db_session.commit()
    second = client.get("/projects/")
    assert second.headers["X-Page-Cache"] == "hit"
    assert second.get_data() == first.get_data(), "served from memory until the TTL passes"
    assert second.headers["Content-Security-Policy"], "security headers on hits too"
    assert "max-age=30" in second.headers["Cache-Control"]
    other_query = client.get("/projects/?q=後から")
    assert other_query.headers["X-Page-Cache"] == "miss" and "後から来た事業" in other_query.get_data(as_text=True)


def test_signed_in_visitors_and_other_languages_get_fresh_pages(client, db_session, cache_on):
    user = make_user(db_session)
    db_session.commit()
    assert client.get("/projects/").headers["X-Page-Cache"] == "miss"
    assert client.get("/projects/").headers["X-Page-Cache"] == "hit"
    assert "X-Page-Cache" not in client.get("/projects/?lang=en").headers
    assert client.get("/projects/").headers["X-Page-Cache"] == "miss", "English is cached apart from Japanese"
    client.get("/projects/?lang=ja")
    login(client, user.email)
    page = client.get("/projects/")
    assert "X-Page-Cache" not in page.headers
    assert 'name="csrf-token"' in page.get_data(as_text=True)


def test_expired_entries_are_rendered_again(client, db_session, cache_on, monkeypatch):
    import time

    client.get("/orgs/")
    assert client.get("/orgs/").headers["X-Page-Cache"] == "hit"
    later = time.monotonic() + 31
    monkeypatch.setattr(pagecache.time, "monotonic", lambda: later)
    assert client.get("/orgs/").headers["X-Page-Cache"] == "miss"
