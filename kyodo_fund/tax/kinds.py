"""Issuer kinds as the tax rules see them (receipts-and-tax.md §1). Receipts and the estimator share them."""

from __future__ import annotations

import enum


class IssuerKind(enum.StrEnum):
    #: 認定 or 特例認定 NPO法人: 所得控除 or 税額控除; 住民税 only if also 条例指定.
    NINTEI_NPO = "nintei_npo"
    #: 公益財団/社団 holding a 税額控除に係る証明書: 所得控除 or 税額控除.
    KOEKI_CERT = "koeki_cert"
    #: 公益財団/社団 without that certificate: 所得控除 only.
    KOEKI = "koeki"
    #: 条例指定 NPO法人 that is not 認定: 住民税 credit only.
    JOREI_NPO = "jorei_npo"
    #: Ordinary NPO法人 and other groups: no relief, no tax wording on the receipt.
    PLAIN = "plain"


#: Gifts to these count for the income-tax 寄附金控除 (F1).
INCOME_DEDUCTIBLE = frozenset({IssuerKind.NINTEI_NPO, IssuerKind.KOEKI_CERT, IssuerKind.KOEKI})
#: Gifts to these may instead be claimed as 税額控除 (F2), each kind its own category.
CREDIT_ELIGIBLE = frozenset({IssuerKind.NINTEI_NPO, IssuerKind.KOEKI_CERT})
#: Kinds whose gifts may be 条例指定 for the resident tax (F5).
RESIDENT_DESIGNABLE = frozenset({*INCOME_DEDUCTIBLE, IssuerKind.JOREI_NPO})
#: Kinds that issue a 寄附金受領証明書 (everything but ``plain``, which issues a 領収書).
TAX_DOCUMENT_KINDS = frozenset(IssuerKind) - {IssuerKind.PLAIN}
