"""The annual statement the rendering benchmarks draw: a monthly donor's year of ¥3,000 gifts to the fund, with the
tax estimate and the QR code, numbered and coded per document as in a real run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any


def statement_maker(config: Mapping[str, Any], year: int) -> Callable[..., Any]:
    """``make(n, name, address)``: statement number ``n`` (from 1) for that donor. Imports ``kyodo_fund`` when called,
    so a benchmark can point ``sys.path`` at another checkout first."""
    from kyodo_fund.receipts import build
    from kyodo_fund.receipts.issuers import fund_issuer
    from kyodo_fund.receipts.snapshot import DonorSnapshot
    from kyodo_fund.tax.estimator import EstimatorSettings
    from kyodo_fund.tax.kinds import IssuerKind

    issuer = fund_issuer(config)
    lines = [build.GiftLine(m, date(year, m, 1), 3_000, issuer.name, "", IssuerKind.KOEKI, ()) for m in range(1, 13)]
    settings = EstimatorSettings.from_config(config)

    def make(n: int, name: str = "寄附 太郎", address: str = "長野県松本市丸の内3-7") -> Any:
        code = build.new_verification_code()
        return build.statement_snapshot(
            issuer,
            lines,
            DonorSnapshot(name, address, "390-0873"),
            year=year,
            number=f"S-{year + 1}-{n:06d}",
            issued_on=date(year + 1, 1, 15),
            code=code,
            url=build.verification_url(config, code),
            settings=settings,
        )

    return make
