import re
from urllib.parse import urlsplit

import pytest


def _links(message) -> list[str]:
    return re.findall(r"https?://\S+", message.get_body(("plain",)).get_content())


@pytest.fixture
def mail_links():
    """``mail_links(message)``: the absolute links in a received mail's plain-text body."""
    return _links


@pytest.fixture
def mail_path():
    """``mail_path(message, "/account/confirm/")``: the path of the one link starting with that prefix."""

    def _path(message, prefix: str) -> str:
        paths = [urlsplit(link).path for link in _links(message) if urlsplit(link).path.startswith(prefix)]
        assert len(paths) == 1, f"expected one {prefix} link, got {paths}"
        return paths[0]

    return _path
