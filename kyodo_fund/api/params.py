"""Strict query-parameter parsing for the JSON API: one bad parameter is one 400 that names it."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TypeVar

from flask import jsonify
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

#: ASCII digits only: ``1000.5``, ``1e9``, ``-100``, ``12,345`` and full-width digits are all refused
#: here, unlike the forgiving ``money.parse_yen`` that forms use for human input.
_WHOLE = re.compile(r"[0-9]{1,13}")
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}

E = TypeVar("E", bound=StrEnum)


class ParameterError(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message

    def response(self) -> tuple[Response, int]:
        return jsonify(error={"parameter": self.parameter, "message": self.message}), 400


def _single(args: MultiDict, name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise ParameterError(name, _("パラメータが複数回指定されています。"))
    return values[0] if values else None


def whole_number(args: MultiDict, name: str, *, required: bool, maximum: int | None = None) -> int | None:
    raw = _single(args, name)
    if raw is None or raw == "":
        if required:
            raise ParameterError(name, _("必須のパラメータです。"))
        return None
    if raw.startswith("-") and _WHOLE.fullmatch(raw[1:]):
        raise ParameterError(name, _("0以上の整数を指定してください。"))
    if not _WHOLE.fullmatch(raw):
        raise ParameterError(name, _("0以上の整数（半角数字のみ、13桁まで）を指定してください。"))
    value = int(raw)
    if maximum is not None and value > maximum:
        raise ParameterError(name, _("%(maximum)s以下の整数を指定してください。", maximum=maximum))
    return value


def boolean(args: MultiDict, name: str, *, default: bool) -> bool:
    raw = _single(args, name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ParameterError(name, _("true または false を指定してください。"))


def choice(args: MultiDict, name: str, enum: type[E], *, required: bool = True) -> E | None:
    raw = _single(args, name)
    if raw is None or raw == "":
        if required:
            raise ParameterError(name, _("必須のパラメータです。"))
        return None
    try:
        return enum(raw)
    except ValueError:
        allowed = "|".join(member.value for member in enum)
        raise ParameterError(name, _("次のいずれかを指定してください: %(allowed)s", allowed=allowed)) from None
