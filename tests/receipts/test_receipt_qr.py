"""The receipts' own QR encoder (kyodo_fund.receipts.qr) against segno, module for module.

segno is the reference: ``qr_matrix`` must give exactly ``segno.make(data, error="m", mask=2, micro=False)``
for every version, including the lengths where segno raises the error level to Q or H, and for content it
hands back to segno (digits, upper-case alphanumerics, non-ASCII).
"""

from __future__ import annotations

import random
import string

import pytest
import segno

from kyodo_fund.receipts.qr import qr_matrix

URL_CHARS = string.ascii_letters + string.digits + "/:.?=&-_~%#+ "


def segno_matrix(data: str) -> tuple[bytes, ...]:
    return tuple(bytes(row) for row in segno.make(data, error="m", mask=2, micro=False).matrix)


def random_url(rnd: random.Random, length: int) -> str:
    # A lower-case letter first, as in every URL: byte mode, the case the fast path handles.
    return "h" + "".join(rnd.choice(URL_CHARS) for _ in range(length - 1))


def test_every_version_and_error_level_matches_segno():
    rnd = random.Random(20261124)
    # Every length up to 160 (versions 1–8 with all their boost boundaries), then steps up to the largest
    # byte-mode content at level M (2,331 bytes, version 40).
    lengths = [*range(1, 161), *range(161, 2331, 29), 2331]
    seen = set()
    for length in lengths:
        data = random_url(rnd, length)
        reference = segno.make(data, error="m", mask=2, micro=False)
        seen.add((reference.version, reference.error))
        assert qr_matrix(data) == tuple(bytes(row) for row in reference.matrix), (length, reference.designator)
    assert {version for version, _ in seen} == set(range(1, 41))
    assert {error for _, error in seen} == {"M", "Q", "H"}  # the boosted levels were exercised too


def test_verification_urls_match_segno():
    rnd = random.Random(7)
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    for base in ("https://kyodo.example.jp/receipts/verify/", "http://127.0.0.1:5000/receipts/verify/"):
        for _ in range(50):
            url = base + "".join(rnd.choice(alphabet) for _ in range(26))
            assert qr_matrix(url) == segno_matrix(url)


@pytest.mark.parametrize(
    "data",
    ["1234567890", "HTTPS://KYODO.EXAMPLE.JP/R/7KQ2M9XD", "https://例え.jp/受領", "R-2026-000123"],
)
def test_content_for_other_modes_is_left_to_segno(data):
    assert qr_matrix(data) == segno_matrix(data)


def test_content_too_long_for_any_version_is_refused_as_segno_refuses_it():
    with pytest.raises(segno.DataOverflowError):
        qr_matrix("h" * 2332)
