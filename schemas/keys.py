"""The keys that identify clusters and projects across files and periods (stable: docs/architecture.md)."""

from __future__ import annotations

import re

from schemas.text import loose_key, slug

_ROMAN_NUMERALS = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9",
                   "x": "10"}
_CLUSTER_PREFIX = re.compile(r"^(cum cong nghiep|cum cn|ccn)\s+", re.IGNORECASE)


def cluster_key(name: str) -> str:
    """A cluster name reduced for matching and IDs: prefix dropped, roman numerals as digits."""
    s = loose_key(name)
    s = _CLUSTER_PREFIX.sub("", s)
    words = [_ROMAN_NUMERALS.get(w, w) if i > 0 else w for i, w in enumerate(s.split())]
    return " ".join(words)


def cluster_id(province_code: str, name: str) -> str:
    """The stable ID a newly seen cluster is registered under: ``37-dong-van-2``."""
    return f"{province_code}-{slug(cluster_key(name))}"


def project_key(cluster: str, tax_code: str | None, project_name: str | None) -> str:
    if tax_code and re.sub(r"\D", "", tax_code):
        return f"{cluster}/{re.sub(r'[^0-9-]', '', tax_code)}"
    return f"{cluster}/{slug(project_name or '')[:60]}"
