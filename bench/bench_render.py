"""Micro-benchmark of drawing annual statements alone: no database, no mail, one process.

In one run, best of ``--repeat`` rounds each, it times

* the baseline: N bare one-page PDFs with ``render_plain_page`` (stock reportlab, one CID font),
* N annual-statement PDFs with ``render_receipt`` (12 gifts, the fund as issuer, tax estimate, QR code),

and reports milliseconds per document and the ratio statements/s ÷ bare pages/s (issue 4's measure, here for
rendering alone). Donor names, addresses and verification codes differ per statement, as in a real run, so
per-process caches only help with what really recurs.

    .venv/bin/python bench/bench_render.py                      # 500 of each, best of 3
    .venv/bin/python bench/bench_render.py --root /tmp/old      # the same measurement of another checkout

``--root`` imports ``kyodo_fund`` from another checkout (e.g. ``git archive <rev> | tar -x -C /tmp/old``) to
compare before and after on the same machine in the same minute.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from pathlib import Path

from samples import statement_maker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=500, help="documents of each kind per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))

    from kyodo_fund.factory import create_app
    from kyodo_fund.receipts import pdf as receipts_pdf

    assert Path(receipts_pdf.__file__).resolve().is_relative_to(args.root.resolve()), receipts_pdf.__file__
    app = create_app("testing")
    year, n = 2025, args.count
    with app.app_context():
        make = statement_maker(app.config, year)
        snapshots = [make(i + 1, f"寄附 太郎{i}", f"長野県松本市丸の内{i % 9 + 1}-{i % 40 + 1}") for i in range(n)]
    texts = [f"寄附金受領証明書 S-{year + 1}-{i:06d} 寄附 太郎{i} 様 ¥36,000-" for i in range(n)]

    def timed(render, items) -> float:
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            for item in items:
                render(item)
            best = min(best, time.perf_counter() - started)
        return best / len(items) * 1000

    for i in range(20):  # warm-up: imports, font metrics, per-process caches
        receipts_pdf.render_plain_page(f"warm-up {i}")
        receipts_pdf.render_receipt(snapshots[i % n])
    # Interleaved rounds would mix the two in the caches; each gets its own rounds, baseline first and last.
    plain_first = timed(receipts_pdf.render_plain_page, texts)
    statement = timed(receipts_pdf.render_receipt, snapshots)
    plain_last = timed(receipts_pdf.render_plain_page, texts)
    plain = min(plain_first, plain_last)

    sample = receipts_pdf.render_receipt(snapshots[0])
    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(sample)).pages)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"checkout: {args.root.resolve()}")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    print(f"{n} documents of each kind, best of {args.repeat}")
    print("| what | ms per document |")
    print("|---|---:|")
    rounds = f"first / last round {plain_first:.3f} / {plain_last:.3f}"
    print(f"| bare one-page PDF (`render_plain_page`) | {plain:.3f} ({rounds}) |")
    print(f"| annual statement (`render_receipt`, {pages} pages, {len(sample):,} bytes) | {statement:.3f} |")
    print(
        f"| **ratio statements/s ÷ bare pages/s** | **{plain / statement:.2f}** ({statement / plain:.2f}× the time) |"
    )


if __name__ == "__main__":
    main()
