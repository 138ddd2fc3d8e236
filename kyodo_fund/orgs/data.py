"""Reference data for organisations: legal forms, Nagano's 77 municipalities, the 20 NPO activity categories."""

from __future__ import annotations

import enum
from typing import NamedTuple

from flask_babel import lazy_gettext as _l


class LegalForm(enum.StrEnum):
    NPO_HOUJIN = "npo_houjin"
    IPPAN_SHADAN = "ippan_shadan"
    IPPAN_ZAIDAN = "ippan_zaidan"
    KOEKI_SHADAN = "koeki_shadan"
    KOEKI_ZAIDAN = "koeki_zaidan"
    SHAKAI_FUKUSHI = "shakai_fukushi"
    NIN_I = "nin_i"
    CHIEN_DANTAI = "chien_dantai"
    KYODO_KUMIAI = "kyodo_kumiai"
    OTHER = "other"

    @property
    def label(self) -> str:
        return LEGAL_FORM_LABELS[self]

    @property
    def requires_corporate_number(self) -> bool:
        # Unincorporated groups have no 法人番号; "other" covers bodies we cannot judge up front.
        return self not in (LegalForm.NIN_I, LegalForm.OTHER)


LEGAL_FORM_LABELS = {
    LegalForm.NPO_HOUJIN: _l("NPO法人（特定非営利活動法人）"),
    LegalForm.IPPAN_SHADAN: _l("一般社団法人"),
    LegalForm.IPPAN_ZAIDAN: _l("一般財団法人"),
    LegalForm.KOEKI_SHADAN: _l("公益社団法人"),
    LegalForm.KOEKI_ZAIDAN: _l("公益財団法人"),
    LegalForm.SHAKAI_FUKUSHI: _l("社会福祉法人"),
    LegalForm.NIN_I: _l("任意団体・ボランティア団体"),
    LegalForm.CHIEN_DANTAI: _l("地縁団体（認可地縁団体）"),
    LegalForm.KYODO_KUMIAI: _l("協同組合"),
    LegalForm.OTHER: _l("その他"),
}


class Municipality(NamedTuple):
    #: 全国地方公共団体コード: 2-digit prefecture + 3-digit municipality + check digit.
    code: str
    name: str
    #: 郡 for towns and villages; empty for cities.
    district: str = ""

    @property
    def kind(self) -> str:
        return self.name[-1]  # 市, 町 or 村


def _in(district: str, *entries: tuple[str, str]) -> tuple[Municipality, ...]:
    return tuple(Municipality(code, name, district) for code, name in entries)


#: Nagano's 19 cities, 23 towns and 35 villages, in code order.
MUNICIPALITIES: tuple[Municipality, ...] = (
    *_in(
        "",
        ("202011", "長野市"),
        ("202029", "松本市"),
        ("202037", "上田市"),
        ("202045", "岡谷市"),
        ("202053", "飯田市"),
        ("202061", "諏訪市"),
        ("202070", "須坂市"),
        ("202088", "小諸市"),
        ("202096", "伊那市"),
        ("202100", "駒ヶ根市"),
        ("202118", "中野市"),
        ("202126", "大町市"),
        ("202134", "飯山市"),
        ("202142", "茅野市"),
        ("202151", "塩尻市"),
        ("202177", "佐久市"),
        ("202185", "千曲市"),
        ("202193", "東御市"),
        ("202207", "安曇野市"),
    ),
    *_in(
        "南佐久郡",
        ("203033", "小海町"),
        ("203041", "川上村"),
        ("203050", "南牧村"),
        ("203068", "南相木村"),
        ("203076", "北相木村"),
        ("203092", "佐久穂町"),
    ),
    *_in("北佐久郡", ("203211", "軽井沢町"), ("203238", "御代田町"), ("203246", "立科町")),
    *_in("小県郡", ("203491", "青木村"), ("203505", "長和町")),
    *_in("諏訪郡", ("203611", "下諏訪町"), ("203629", "富士見町"), ("203637", "原村")),
    *_in(
        "上伊那郡",
        ("203823", "辰野町"),
        ("203831", "箕輪町"),
        ("203840", "飯島町"),
        ("203858", "南箕輪村"),
        ("203866", "中川村"),
        ("203882", "宮田村"),
    ),
    *_in(
        "下伊那郡",
        ("204021", "松川町"),
        ("204030", "高森町"),
        ("204048", "阿南町"),
        ("204072", "阿智村"),
        ("204099", "平谷村"),
        ("204102", "根羽村"),
        ("204111", "下條村"),
        ("204129", "売木村"),
        ("204137", "天龍村"),
        ("204145", "泰阜村"),
        ("204153", "喬木村"),
        ("204161", "豊丘村"),
        ("204170", "大鹿村"),
    ),
    *_in(
        "木曽郡",
        ("204226", "上松町"),
        ("204234", "南木曽町"),
        ("204251", "木祖村"),
        ("204293", "王滝村"),
        ("204307", "大桑村"),
        ("204323", "木曽町"),
    ),
    *_in(
        "東筑摩郡",
        ("204463", "麻績村"),
        ("204480", "生坂村"),
        ("204501", "山形村"),
        ("204510", "朝日村"),
        ("204528", "筑北村"),
    ),
    *_in("北安曇郡", ("204811", "池田町"), ("204820", "松川村"), ("204854", "白馬村"), ("204862", "小谷村")),
    *_in("埴科郡", ("205214", "坂城町")),
    *_in("上高井郡", ("205419", "小布施町"), ("205435", "高山村")),
    *_in("下高井郡", ("205613", "山ノ内町"), ("205621", "木島平村"), ("205630", "野沢温泉村")),
    *_in("上水内郡", ("205834", "信濃町"), ("205885", "小川村"), ("205907", "飯綱町")),
    *_in("下水内郡", ("206024", "栄村")),
)

MUNICIPALITY_BY_CODE: dict[str, Municipality] = {m.code: m for m in MUNICIPALITIES}


def municipality_choices() -> dict[str, list[tuple[str, str]]]:
    """Select options grouped by 市 / 郡 (WTForms renders a dict as <optgroup>s)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for m in MUNICIPALITIES:
        groups.setdefault(m.district or "市", []).append((m.code, m.name))
    return groups


class ActivityCategory(NamedTuple):
    number: int
    label: str


#: 特定非営利活動促進法 別表 (the 20 kinds of 特定非営利活動), numbered as in the law.
ACTIVITY_CATEGORIES: tuple[ActivityCategory, ...] = tuple(
    ActivityCategory(n, label)
    for n, label in enumerate(
        (
            _l("保健・医療・福祉"),
            _l("社会教育"),
            _l("まちづくり"),
            _l("観光の振興"),
            _l("農山漁村・中山間地域の振興"),
            _l("学術・文化・芸術・スポーツ"),
            _l("環境の保全"),
            _l("災害救援"),
            _l("地域安全"),
            _l("人権の擁護・平和の推進"),
            _l("国際協力"),
            _l("男女共同参画社会の形成"),
            _l("子どもの健全育成"),
            _l("情報化社会の発展"),
            _l("科学技術の振興"),
            _l("経済活動の活性化"),
            _l("職業能力の開発・雇用機会の拡充"),
            _l("消費者の保護"),
            _l("前各号の活動を行う団体の運営・活動に関する連絡・助言・援助"),
            _l("都道府県・指定都市の条例で定める活動"),
        ),
        start=1,
    )
)

CATEGORY_LABELS: dict[int, str] = {c.number: c.label for c in ACTIVITY_CATEGORIES}
