from kyodo_fund.factory import create_app


def test_testing_config_is_applied(app):
    assert app.testing
    assert app.config["ENV_NAME"] == "testing"


def test_default_app_is_not_testing(tmp_path, monkeypatch):
    monkeypatch.setenv("KYODO_INSTANCE_PATH", str(tmp_path))
    app = create_app("development")
    assert not app.testing
    assert app.config["DATABASE_URL"].startswith("sqlite:///")
    assert str(tmp_path) in app.config["DATABASE_URL"]


def test_env_variables_override_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("KYODO_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("KYODO_PAGE_SIZE", "7")
    monkeypatch.setenv("KYODO_HSTS", "true")
    app = create_app("development")
    assert app.config["PAGE_SIZE"] == 7
    assert app.config["HSTS"] is True


def test_production_refuses_to_start_without_secret(tmp_path, monkeypatch):
    import pytest

    monkeypatch.setenv("KYODO_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("KYODO_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="KYODO_SECRET_KEY"):
        create_app("production")


def test_home_page_is_japanese(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert "信州協働ファンド" in html
