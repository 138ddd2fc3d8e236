"""The module matrix of a receipt's verification QR code, without segno's per-module Python loops.

segno spends ~0.9 ms on every code, mostly placing and masking modules one by one in Python, which was a
sixth of an annual statement's rendering time. Receipts only ever encode a URL in byte mode at error level M
(raised to Q or H when the same version has room, as segno does) with the fixed mask pattern 2, and for a given
version everything but the data modules is the same in every code. So this module builds, once per version:
the function patterns with format and version information (taken from a segno-encoded template, so those
stay segno's), the order in which data modules are filled, and the mask over them; a code then costs a
Reed–Solomon pass and one loop over its bits. Content that segno would put in another mode (digits only,
upper-case alphanumerics, non-ASCII) is left to segno. Tests compare the matrices with segno's.
"""

from __future__ import annotations

import functools

import segno
from segno import consts  # ISO/IEC 18004 tables: capacities, block structure, alignment pattern positions

MASK = 2
_BOOST = (consts.ERROR_LEVEL_Q, consts.ERROR_LEVEL_H)  # tried in this order after M, as segno does
_ALPHANUMERIC = frozenset(consts.ALPHANUMERIC_CHARS.decode("ascii"))

Matrix = tuple[bytes, ...]


def qr_matrix(data: str) -> Matrix:
    """Rows of 0/1 bytes (1 = dark), without quiet zone: equal to
    ``segno.make(data, error="m", mask=2, micro=False).matrix``."""
    if not data.isascii() or set(data) <= _ALPHANUMERIC:
        return _segno_matrix(data)  # empty, numeric, alphanumeric or non-ASCII: another mode or encoding
    raw = data.encode("ascii")
    version, level = _version_and_level(len(raw))
    if version is None:
        return _segno_matrix(data)  # too long for byte mode at M: let segno raise its error
    layout = _layout(version, level)
    bits = format(int.from_bytes(_codewords(raw, version, level), "big"), f"0{layout.codeword_bits}b")
    modules = bytearray(layout.masked_template)
    for position, bit in zip(layout.positions, bits, strict=False):
        if bit == "1":
            modules[position] ^= 1
    n = layout.size
    return tuple(bytes(modules[row : row + n]) for row in range(0, n * n, n))


def _segno_matrix(data: str) -> Matrix:
    return tuple(bytes(row) for row in segno.make(data, error="m", mask=MASK, micro=False).matrix)


def _count_bits(version: int) -> int:
    return 8 if version < 10 else 16  # character count indicator of byte mode


@functools.lru_cache(maxsize=256)
def _version_and_level(length: int) -> tuple[int | None, int]:
    for version in range(1, 41):
        needed = 4 + _count_bits(version) + 8 * length
        if consts.SYMBOL_CAPACITY[version][consts.ERROR_LEVEL_M] >= needed:
            level = consts.ERROR_LEVEL_M
            for better in _BOOST:
                if consts.SYMBOL_CAPACITY[version][better] < needed:
                    break
                level = better
            return version, level
    return None, consts.ERROR_LEVEL_M


def _codewords(raw: bytes, version: int, level: int) -> bytes:
    """Data codewords (mode, count, data, terminator, padding) split into blocks, each followed by its
    Reed–Solomon error correction, interleaved as the standard places them."""
    capacity = consts.SYMBOL_CAPACITY[version][level]  # bits, a multiple of 8 for QR (not Micro QR)
    count_bits = _count_bits(version)
    value = (0b0100 << count_bits | len(raw)) << 8 * len(raw) | int.from_bytes(raw, "big")
    length = 4 + count_bits + 8 * len(raw)
    terminator = min(4, capacity - length)
    length += terminator
    # Zero bits up to the next byte boundary; like segno, a whole zero byte when already on one (still valid:
    # a reader stops at the terminator), so the matrices stay identical to segno's.
    filler = 8 - length % 8
    value <<= terminator + filler
    data = value.to_bytes((length + filler) // 8, "big")[: capacity // 8]
    pad = capacity // 8 - len(data)
    data += (b"\xec\x11" * (pad // 2 + 1))[:pad]

    data_blocks, ec_blocks, start = [], [], 0
    for info in consts.ECC[version][level]:
        for _ in range(info.num_blocks):
            block = data[start : start + info.num_data]
            start += info.num_data
            data_blocks.append(block)
            ec_blocks.append(_reed_solomon(block, info.num_total - info.num_data))
    return _interleave(data_blocks) + _interleave(ec_blocks)


def _interleave(blocks: list[bytes]) -> bytes:
    longest = max(len(block) for block in blocks)
    return bytes(block[i] for i in range(longest) for block in blocks if i < len(block))


# GF(256) with the QR code's polynomial x^8 + x^4 + x^3 + x^2 + 1.
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _gf_mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@functools.lru_cache(maxsize=64)
def _generator_products(degree: int) -> tuple[int, ...]:
    """For each byte f, f times the generator polynomial without its leading 1, as a ``degree``-byte integer:
    the division then shifts the remainder one byte and XORs one table entry per data byte."""
    generator = [1]  # (x - α^0)(x - α^1)…(x - α^(degree-1)), highest power first
    for i in range(degree):
        generator = [a ^ _gf_mul(b, _EXP[i]) for a, b in zip([*generator, 0], [0, *generator], strict=True)]
    tail = generator[1:]
    return tuple(int.from_bytes(bytes(_gf_mul(f, g) for g in tail), "big") for f in range(256))


def _reed_solomon(block: bytes, degree: int) -> bytes:
    products = _generator_products(degree)
    shift, keep = 8 * (degree - 1), (1 << 8 * degree) - 1
    remainder = 0
    for byte in block:
        remainder = ((remainder << 8) & keep) ^ products[(remainder >> shift) ^ byte]
    return remainder.to_bytes(degree, "big")


class _Layout:
    """What every code of one version and error level shares."""

    def __init__(self, version: int, level: int) -> None:
        n = self.size = 17 + 4 * version
        reserved = _function_modules(version, n)
        order = []
        for right in range(n - 1, 0, -2):  # two-module columns, right to left, skipping the timing column
            if right <= 6:
                right -= 1
            upwards = (right & 2 == 0) ^ (right < 6)  # alternating, with a phase change past the timing column
            rows = range(n - 1, -1, -1) if upwards else range(n)
            for row in rows:
                for column in (right, right - 1):
                    if (row, column) not in reserved:
                        order.append(row * n + column)
        self.positions = tuple(order)
        total = sum(info.num_blocks * info.num_total for info in consts.ECC[version][level])
        self.codeword_bits = 8 * total  # the remaining 0–7 positions hold remainder bits (0, masked)
        template = segno.make("a", version=version, error=level, mask=MASK, micro=False, boost_error=False)
        modules = bytearray(b"".join(bytes(row) for row in template.matrix))
        for position in order:
            modules[position] = 1 if (position % n) % 3 == 0 else 0  # mask 2: column divisible by 3
        self.masked_template = bytes(modules)


@functools.lru_cache(maxsize=16)
def _layout(version: int, level: int) -> _Layout:
    return _Layout(version, level)


def _function_modules(version: int, n: int) -> frozenset[tuple[int, int]]:
    """Finder patterns with separators and format information, timing patterns, alignment patterns,
    version information and the dark module: every module that holds no data."""

    def finder_or_format(row: int, column: int) -> bool:  # the three 9×9 / 9×8 / 8×9 corners
        return (row < 9 and (column < 9 or column >= n - 8)) or (row >= n - 8 and column < 9)

    def version_info(row: int, column: int) -> bool:  # two 6×3 blocks from version 7 on
        return version >= 7 and ((row < 6 and n - 11 <= column < n - 8) or (column < 6 and n - 11 <= row < n - 8))

    cells = {
        (row, column)
        for row in range(n)
        for column in range(n)
        if row == 6 or column == 6 or finder_or_format(row, column) or version_info(row, column)
    }
    centres = consts.ALIGNMENT_POS[version - 2] if version > 1 else ()  # the table starts at version 2
    for cy in centres:
        for cx in centres:
            if not finder_or_format(cy, cx):
                cells.update((cy + dy, cx + dx) for dy in range(-2, 3) for dx in range(-2, 3))
    return frozenset(cells)
