"""The receipts' QR matrices (kyodo_fund.receipts.qr) scan back to what was encoded.

Each matrix is drawn as an image the way a printer would (light quiet zone, several pixels per module) and read
with zxing-cpp's reader: the text must come back exactly, at error correction level M or better. The printed
page itself is scanned in test_receipt_pdf.py.
"""

from __future__ import annotations

import random

import pytest
import zxingcpp
from PIL import Image

from kyodo_fund.receipts.qr import qr_matrix

URL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"


def scan(matrix: tuple[bytes, ...], *, scale: int = 4, quiet: int = 4) -> list:
    side = len(matrix)
    assert all(len(row) == side for row in matrix)  # square
    assert set(b"".join(matrix)) <= {0, 1}
    pixels = bytearray()
    light_row = b"\xff" * ((side + 2 * quiet) * scale)
    pixels += light_row * (quiet * scale)
    for row in matrix:
        line = b"\xff" * (quiet * scale)
        line += b"".join((b"\x00" if dark else b"\xff") * scale for dark in row)
        line += b"\xff" * (quiet * scale)
        pixels += line * scale
    pixels += light_row * (quiet * scale)
    width = (side + 2 * quiet) * scale
    image = Image.frombytes("L", (width, width), bytes(pixels))
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def assert_scans_as(data: str) -> None:
    (found,) = scan(qr_matrix(data))
    assert found.text == data
    assert found.ec_level in ("M", "Q", "H")


def test_verification_urls_scan_back():
    rnd = random.Random(7)
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    for base in ("https://kyodo.example.jp/receipts/verify/", "http://127.0.0.1:5000/receipts/verify/"):
        for _ in range(25):
            assert_scans_as(base + "".join(rnd.choice(alphabet) for _ in range(26)))


def test_lengths_across_many_versions_scan_back():
    rnd = random.Random(20261124)
    sides = set()
    for length in [*range(1, 120, 7), 300, 700, 1500]:
        data = "h" + "".join(rnd.choice(URL_CHARS) for _ in range(length - 1))
        matrix = qr_matrix(data)
        sides.add(len(matrix))
        assert_scans_as(data)
    assert len(sides) >= 8  # the sample crossed many versions (21, 25, 29 … modules)
    assert min(sides) == 21  # version 1 for the shortest


@pytest.mark.parametrize("data", ["1234567890", "HTTPS://KYODO.EXAMPLE.JP/R/7KQ2M9XD", "https://例え.jp/受領"])
def test_other_kinds_of_content_scan_back(data):
    assert_scans_as(data)


def test_a_corrupted_matrix_does_not_scan_as_the_url():
    """The reader check is not a formality: breaking a finder pattern makes the same code unreadable."""
    matrix = [bytearray(row) for row in qr_matrix("https://kyodo.example.jp/receipts/verify/7KQ2M9XD")]
    for row in range(7):
        for column in range(7):
            matrix[row][column] = 0
    assert [found.text for found in scan(tuple(bytes(row) for row in matrix))] == []
