"""The rule catalogue (``rules.toml``) and the findings it produces."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # error | warning
    scope: str
    description_vi: str
    description_en: str
    message_vi: str
    message_en: str
    extra: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Finding:
    rule_id: str
    severity: str
    message_vi: str
    message_en: str
    sheet: str | None = None
    cell: str | None = None
    indicator_code: str | None = None
    expected: str | None = None

    @property
    def message(self) -> str:
        return f"{self.message_vi} — {self.message_en}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def where(self) -> str:
        return "!".join(p for p in (self.sheet, self.cell) if p)


_KNOWN = {"id", "severity", "scope", "description_vi", "description_en", "message_vi", "message_en"}


@lru_cache(maxsize=1)
def rules() -> dict[str, Rule]:
    data = tomllib.loads((HERE / "rules.toml").read_text(encoding="utf-8"))
    out = {}
    for r in data["rules"]:
        out[r["id"]] = Rule(**{k: r[k] for k in _KNOWN}, extra={k: v for k, v in r.items() if k not in _KNOWN})
    return out


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def finding(rule_id: str, *, sheet: str | None = None, cell: str | None = None,
            indicator_code: str | None = None, expected: str | None = None, **params: object) -> Finding:
    """A finding of a catalogued rule, its messages filled from ``params``."""
    rule = rules()[rule_id]
    p = _Params({k: "" if v is None else v for k, v in params.items()})
    p.setdefault("detail", "")
    if expected is not None:
        p.setdefault("expected", expected)
    return Finding(
        rule_id=rule.id, severity=rule.severity,
        message_vi=rule.message_vi.format_map(p), message_en=rule.message_en.format_map(p),
        sheet=sheet, cell=cell, indicator_code=indicator_code, expected=expected,
    )
