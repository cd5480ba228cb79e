"""A realistic national set of reports for one period, consistent across levels, with its truth.

Provinces and communes are real 2025 units (GSO codes, ``schemas/reference/admin``); cluster magnitudes
follow SPEC §7 (10–75 ha, ~65% occupancy, ~13 projects per operating cluster).  Biểu 01 per project, 02 per
cluster, 03 per commune with clusters, 04 per province; each upper level is computed from the written values
of the level below, so the forms agree.  A few files carry deliberate errors and a few arrive late.
``truth.json`` beside the files lists what each file holds and the national totals of Biểu 04.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import random
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from pipelines.steward.templates import FormContent, Identification, Typing, write_form
from schemas.admin import REFERENCE, admin
from schemas.forms import load_forms
from schemas.geography import generation_of
from schemas.keys import cluster_id, project_key
from schemas.periods import Period
from schemas.status import Status
from schemas.text import slug
from validations.catalogue import CrossLevelRule, excess, rules

SECTORS = ["Chế biến gỗ", "Dệt may", "Cơ khí", "Chế biến nông sản", "Vật liệu xây dựng", "Điện tử", "Da giày",
           "Thủ công mỹ nghệ", "Bao bì nhựa", "Thực phẩm"]
COMPANY = ["Công ty TNHH", "Công ty Cổ phần", "Công ty TNHH MTV", "Doanh nghiệp tư nhân"]
NAMES = ["Phú Thịnh", "Hòa Bình", "Minh Phát", "An Khang", "Tân Tiến", "Việt Hưng", "Đại Dương", "Thành Công",
         "Hưng Long", "Kim Sơn", "Bảo Ngọc", "Trường An", "Đông Á", "Sao Mai", "Hoàng Gia", "Nam Việt"]


@dataclass
class Cluster:
    id: str
    name: str
    province_code: str
    commune_code: str
    status: str  # operating | operating_unestablished | established | planned
    kind: str  # craft | specialised | other
    area: float
    industrial_land: float
    enterprise_investor: bool
    detailed_plan: bool
    infra_approved: bool
    established_in_period: bool
    investor: str
    tax_code: str
    b02: dict[str, float] = field(default_factory=dict)
    projects: list[dict] = field(default_factory=list)

    @property
    def established(self) -> bool:
        return self.status in ("operating", "established")

    @property
    def operating(self) -> bool:
        return self.status in ("operating", "operating_unestablished")


def _r(x: float, nd: int = 2) -> float:
    return round(x + 0.0, nd)


def _clusters_for(rng: random.Random, province_code: str, communes: list, n: int) -> list[Cluster]:
    out = []
    used: set[str] = set()
    for i in range(n):
        commune = communes[i % len(communes)] if i < len(communes) else rng.choice(communes)
        base = commune.name.split(" ", 1)[1] if " " in commune.name else commune.name
        name = f"Cụm công nghiệp {base}"
        k = 2
        while cluster_id(province_code, name) in used:
            name = f"Cụm công nghiệp {base} {k}"
            k += 1
        used.add(cluster_id(province_code, name))
        status = rng.choices(["operating", "operating_unestablished", "established", "planned"], [70, 5, 15, 10])[0]
        area = _r(rng.uniform(10, 75), 1)
        out.append(Cluster(
            id=cluster_id(province_code, name), name=name, province_code=province_code, commune_code=commune.code,
            status=status, kind=rng.choices(["craft", "specialised", "other"], [12, 10, 78])[0], area=area,
            industrial_land=_r(area * rng.uniform(0.6, 0.75)), enterprise_investor=rng.random() < 0.6,
            detailed_plan=status != "planned" and rng.random() < 0.9,
            infra_approved=status != "planned" and rng.random() < 0.8,
            established_in_period=status in ("operating", "established") and rng.random() < 0.06,
            investor=f"{rng.choice(COMPANY)} {rng.choice(NAMES)} {province_code}{i:02d}",
            tax_code=f"{rng.randint(1, 9)}{rng.randint(0, 10**8):09d}",
        ))
    return out


def _fill_cluster(rng: random.Random, c: Cluster, period: Period, project_ha: tuple[float, float] = (1.0, 3.0)) -> None:
    """Biểu 02 of a cluster and Biểu 01 of its projects."""
    months = 6 if period.kind == "H1" else 12
    total = _r(c.area * rng.uniform(3, 12))
    ready = (_r(c.industrial_land * rng.uniform(0.5, 1.0)) if c.operating
             else _r(c.industrial_land * rng.uniform(0, 0.4)))
    leased = _r(ready * rng.uniform(0.3, 1.0)) if c.operating else 0.0
    n_projects = max(1, round(leased / rng.uniform(*project_ha))) if c.operating else 0
    for p in range(n_projects):
        fdi = rng.random() < 0.1
        operating = rng.random() < 0.85
        revenue = _r(rng.lognormvariate(3.0, 1.0) * months / 6) if operating else 0.0
        workers = rng.randint(15, 450) if operating else rng.randint(0, 10)
        c.projects.append({
            "name": f"Nhà máy {rng.choice(SECTORS).lower()} {rng.choice(NAMES)} {p + 1}",
            "company": f"{rng.choice(COMPANY)} {rng.choice(NAMES)}",
            "sector": rng.choice(SECTORS),
            "tax_code": f"{rng.randint(1, 9)}{rng.randint(0, 10**8):09d}",
            "fdi": fdi, "operating": operating,
            "values": {"1": revenue, "2": _r(revenue * rng.uniform(0.02, 0.08)), "3": float(workers),
                       "4": _r(rng.uniform(6, 12), 1) if workers else 0.0},
        })
    wwtp = c.operating and rng.random() < 0.4
    # a cluster only in the plan has no infrastructure investor (it sends no Biểu 02) and no approved project:
    # no approved investment (row 1), nothing paid (row 2); Biểu 03/04 rows 13 and 14 add up only the others
    planned = c.status == "planned"
    c.b02 = {
        "1": 0.0 if planned else total, "2": 0.0 if planned else _r(total * rng.uniform(0.2, 1.0)), "3": ready,
        "4": leased, "5": _r(100 * leased / c.industrial_land) if c.industrial_land else 0.0,
        "6": float(n_projects), "7": float(sum(p["fdi"] for p in c.projects)),
        "8": float(sum(p["operating"] for p in c.projects)),
        "9": _r(rng.uniform(1, 20) * months / 6) if c.operating else 0.0, "10": 0.0,
        "11": float(rng.randint(5, 40)), "12": _r(rng.uniform(7, 12), 1),
        "13": 1.0 if wwtp else 0.0, "14": 1.0 if wwtp and rng.random() < 0.7 else 0.0,
    }
    c.b02["10"] = _r(c.b02["9"] * rng.uniform(0.03, 0.1))


def aggregate(clusters: list[Cluster]) -> dict[str, float]:
    """Biểu 03/04 rows over a set of clusters, from the values their own reports carry."""
    op = [c for c in clusters if c.operating]
    est = [c for c in clusters if c.established]
    v = {
        "1": len(clusters), "2": sum(c.area for c in clusters), "3": len(est), "4": sum(c.area for c in est),
        "5": sum(c.established_in_period for c in est), "6": sum(c.area for c in est if c.established_in_period),
        "7": sum(c.enterprise_investor for c in est), "8": sum(c.area for c in est if c.enterprise_investor),
        "9": sum(c.detailed_plan for c in clusters), "10": sum(c.area for c in clusters if c.detailed_plan),
        "11": sum(c.infra_approved for c in clusters), "12": sum(c.area for c in clusters if c.infra_approved),
        "13": sum(c.b02["1"] for c in clusters), "14": sum(c.b02["2"] for c in clusters),
        "15.1": sum(c.status == "operating" for c in op),
        "15.2": sum(c.status == "operating_unestablished" for c in op),
        "15.3": sum(c.kind == "craft" for c in op), "15.4": sum(c.kind == "specialised" for c in op),
        "16.1": sum(c.area for c in op if c.status == "operating"),
        "16.2": sum(c.area for c in op if c.status == "operating_unestablished"),
        "16.3": sum(c.area for c in op if c.kind == "craft"),
        "16.4": sum(c.area for c in op if c.kind == "specialised"),
        "17": sum(c.industrial_land for c in op), "18": sum(c.b02["4"] for c in op),
        "20": sum(c.b02["6"] for c in clusters), "21": sum(c.b02["7"] for c in clusters),
        "22": sum(c.b02["8"] for c in clusters),
        "23": sum(p["values"]["1"] for c in clusters for p in c.projects),
        "24": sum(p["values"]["2"] for c in clusters for p in c.projects),
        "25": sum(p["values"]["3"] for c in clusters for p in c.projects),
        "26": sum(c.b02["13"] for c in clusters), "27": sum(c.b02["14"] for c in clusters),
    }
    v["15"] = v["15.1"] + v["15.2"]
    v["16"] = v["16.1"] + v["16.2"]
    out = {k: _r(float(x)) for k, x in v.items()}
    out["19"] = _r(100 * out["18"] / out["17"]) if out["17"] else 0.0
    return out


def _typing(rng: random.Random, plain_share: float = 0.6) -> Typing:
    """Mostly the national template; otherwise one office's way of typing (SPEC §3)."""
    if rng.random() < plain_share:
        return Typing()
    return Typing(
        row_offset=rng.choice([0, 0, 2, 4]), col_offset=rng.choice([0, 0, 1, 2]),
        numbered_row=rng.random() < 0.6, sections=rng.random() < 0.8,
        code_style=rng.choice(["text", "number", "comma"]), label_style=rng.choice(["nfc", "nfd", "old_tone", "upper"]),
        number_style=rng.choice(["number", "vn_text", "en_text"]), unit_in_cell=rng.random() < 0.3,
        percent_style=rng.choice(["number", "text"]), flag_style=rng.choice(["number", "words"]),
    )


@dataclass
class SampleReport:
    sheet: str
    form: str
    unit_key: str
    province_code: str
    values: dict[str, float]


@dataclass
class SampleFile:
    file: str
    reports: list[SampleReport]
    received_at: str
    late: bool
    expected_status: str  # a Status: ACCEPTED, ACCEPTED_WITH_WARNINGS or REJECTED
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    """How many units a province has: the default is a realistic average province; bench/ uses W1 (SPEC §7)."""

    communes: tuple[int, int] = (6, 12)  # communes with clusters
    clusters: tuple[int, int] = (14, 30)
    project_ha: tuple[float, float] = (1.0, 3.0)  # leased hectares per project


# A national semester at full compliance (issue #6): ~700 Biểu 03, ~1,200 Biểu 02, ~15,000 Biểu 01 over 34 provinces.
W1 = Profile(communes=(16, 25), clusters=(34, 44), project_ha=(0.45, 1.35))


Job = tuple[str, list[FormContent], list[str], Typing, str]  # path, contents, unit keys, typing, form


def _jobs(all_clusters: dict[str, list[Cluster]], period: Period, rng: random.Random, projects: bool) -> list[Job]:
    """The workbooks of a period, one per report: Biểu 02 per cluster that is not only planned, 01 per project
    (``projects``), 03 per commune with clusters, 04 per province; each with its typing."""
    a = admin()
    jobs: list[Job] = []
    for pcode, clusters in all_clusters.items():
        prov = a.provinces[pcode]
        folder = f"{pcode}_{slug(prov.name)}"
        pident: dict[str, Any] = dict(province=prov.label, period=period)  # keyword arguments of Identification
        by_commune: dict[str, list[Cluster]] = {}
        for c in clusters:
            by_commune.setdefault(c.commune_code, []).append(c)
        for c in clusters:
            if c.status == "planned":
                continue
            commune = a.communes[c.commune_code]
            ident = Identification(commune=commune.label, cluster=c.name, tax_code=c.tax_code,
                                   sender=c.investor, **pident)
            jobs.append((f"{folder}/bieu02_{slug(c.name)}.xlsx", [FormContent("02", ident, dict(c.b02))], [c.id],
                         _typing(rng), "02"))
            if projects:
                for i, p in enumerate(c.projects):
                    pid = Identification(commune=commune.label, cluster=c.name, tax_code=p["tax_code"],
                                         project=p["name"], sector=p["sector"], sender=p["company"], **pident)
                    jobs.append((f"{folder}/bieu01/{slug(c.name)}_{i + 1:03d}.xlsx",
                                 [FormContent("01", pid, dict(p["values"]))],
                                 [project_key(c.id, p["tax_code"], p["name"])], _typing(rng, 0.8), "01"))
        for ccode, cs in by_commune.items():
            commune = a.communes[ccode]
            ident = Identification(commune=commune.label, sender=f"Ủy ban nhân dân {commune.name}", **pident)
            jobs.append((f"{folder}/bieu03_{ccode}_{slug(commune.name)}.xlsx",
                         [FormContent("03", ident, aggregate(cs))], [ccode], _typing(rng), "03"))
        ident = Identification(sender=f"Sở Công Thương {prov.name}", **pident)
        jobs.append((f"{folder}/bieu04_{pcode}_{slug(prov.name)}.xlsx", [FormContent("04", ident, aggregate(clusters))],
                     [pcode], _typing(rng), "04"))
    return jobs


# --- a period before, and implausible values planted (issue 15: outliers) ----------------------------------------

def previous_period(period: Period) -> Period:
    """The period before ``period``: the previous year's annual report before a 6-month one, the same year's
    6-month report before an annual one."""
    return Period(period.year - 1, "Y") if period.kind == "H1" else Period(period.year, "H1")


def _months(period: Period) -> int:
    return 6 if period.kind == "H1" else 12


def previous_clusters(clusters: list[Cluster], rng: random.Random, period: Period) -> list[Cluster]:
    """The same clusters one period earlier, as they would have reported then: the same units with figures a
    little smaller or different (stocks 0–20 % lower, never higher, so nothing cumulative falls; flows of the
    period's own length, a year against a half-year, with their natural spread), ~7 % of projects not there yet,
    and a few real large changes a steward should not be bothered with: a project ramping up or winding down (its
    revenue 2–5 times what it was, or a half to a fifth) and one starting to operate (no revenue, a handful of
    staff).  Nothing established in that period.  The clusters given are left as they are."""
    ratio = _months(previous_period(period)) / _months(period)
    out = []
    for c in clusters:
        p = copy.deepcopy(c)
        p.established_in_period = False
        p.projects = []
        for q in c.projects:
            if rng.random() < 0.07:  # a project that arrived in this period
                continue
            v = dict(q["values"])
            change = rng.random()
            revenue = v["1"] * ratio * rng.lognormvariate(0, 0.2)
            workers = round(v["3"] * rng.uniform(0.85, 1.1))
            if v["1"] and change < 0.03:  # not operating yet
                revenue, workers = 0.0, rng.randint(0, 8)
            elif change < 0.07:  # ramping up since
                revenue *= rng.uniform(0.2, 0.5)
            elif change < 0.09:  # winding down since
                revenue *= rng.uniform(2, 5)
            values = {"1": _r(revenue), "2": _r(revenue * rng.uniform(0.02, 0.08)), "3": float(workers),
                      "4": _r(v["4"] * rng.uniform(0.9, 1.04), 1) if workers else 0.0}
            p.projects.append({**copy.deepcopy(q), "values": values})
        b = dict(c.b02)
        ready = _r(b["3"] * rng.uniform(0.85, 1.0))
        leased = min(_r(b["4"] * rng.uniform(0.8, 1.0)), ready)
        revenue = _r(b["9"] * ratio * rng.lognormvariate(0, 0.2)) if b["9"] else 0.0
        p.b02 = {
            "1": b["1"], "2": _r(b["2"] * rng.uniform(0.8, 1.0)), "3": ready, "4": leased,
            "5": _r(100 * leased / c.industrial_land) if c.industrial_land else 0.0,
            "6": float(len(p.projects)), "7": float(sum(q["fdi"] for q in p.projects)),
            "8": float(sum(q["operating"] for q in p.projects)), "9": revenue,
            "10": _r(revenue * rng.uniform(0.03, 0.1)), "11": float(max(1, round(b["11"] * rng.uniform(0.85, 1.15)))),
            "12": _r(b["12"] * rng.uniform(0.9, 1.04), 1), "13": b["13"], "14": b["14"]}
        out.append(p)
    return out


# The implausible values planted (``generate(planted=True)``, bench/outliers.py): what offices type wrongly.
# (kind, form, row, factor, least true value): the value of the row becomes factor × what it was; a slip is planted
# only on a value of at least the last figure (a slip on a tiny figure is not implausible).  A report copied
# forward (row None) takes every value of the unit's report of the period before.
PLANTS: tuple[tuple[str, str, str | None, float, float], ...] = (
    ("unit_slip", "01", "1", 1000.0, 5.0),  # revenue typed in million VND where the form asks for billions
    ("unit_slip", "01", "4", 1000.0, 1.0),  # income per worker typed in thousand VND where it asks for millions
    ("extra_zeros", "01", "3", 100.0, 60.0),  # two zeros too many on the workforce
    ("jump", "02", "9", 85.0, 2.0),  # the infrastructure investor's revenue 85 times what it was
    ("extra_zeros", "02", "11", 100.0, 10.0),
    ("decimal_slip", "02", "1", 0.001, 5.0),  # approved investment typed in thousands of billions
    ("copied_forward", "01", None, 1.0, 0.0),
    ("copied_forward", "02", None, 1.0, 0.0),
    ("copied_forward", "04", None, 1.0, 0.0),
)


@dataclass
class Planted:
    """One implausible value (or a whole report copied forward, ``indicator`` None) and the rows of the reports
    above it that add it up (``affects``: form, unit key, row)."""

    kind: str
    form: str
    unit_key: str
    province_code: str
    period: str
    indicator: str | None
    value: float | None
    was: float | None
    affects: list[tuple[str, str, str]] = field(default_factory=list)


def _affected(form: str, code: str | None, commune: str, province: str) -> list[tuple[str, str, str]]:
    """The rows of Biểu 03 and 04 that sum ``code`` of ``form`` (every such row for a whole report)."""
    out = []
    for upper, unit in (("03", commune), ("04", province)):
        for row in load_forms()[upper].rows:
            if row.rollup_form == form and (code is None or row.rollup_code == code):
                out.append((upper, unit, row.code))
    return out


def plant(rng: random.Random, all_clusters: dict[str, list[Cluster]], before: dict[str, list[Cluster]],
          period: Period, rounds: int = 1, blocked: frozenset[tuple[str, str]] = frozenset()
          ) -> tuple[list[Planted], dict[tuple[str, str], dict[str, float]]]:
    """Plant ``rounds`` × PLANTS into ``all_clusters`` (their project and cluster values are changed in place, so
    the communes' and provinces' reports aggregated from them afterwards carry the values up, as an office that
    adds up what it received does), each on another unit that also reported in the period before (``before``).
    ``blocked``: (form, unit key) pairs to leave alone (a commune "03" or a province "04" blocks the units inside
    it).  Returns what was planted and the reports replaced whole: (form, unit key) -> values (a province's
    Biểu 04 copied forward, which no aggregation gives)."""
    earlier_projects = {project_key(c.id, q["tax_code"], q["name"]): q for cs in before.values() for c in cs
                        for q in c.projects}
    earlier_clusters = {c.id: c for cs in before.values() for c in cs}
    sending = [c for cs in all_clusters.values() for c in cs if c.status != "planned"]
    used: set[tuple[str, str]] = set()
    planted: list[Planted] = []
    replaced: dict[tuple[str, str], dict[str, float]] = {}

    def free(form: str, key: str, c: Cluster | None) -> bool:
        if (form, key) in used or (form, key) in blocked:
            return False
        return c is None or (("03", c.commune_code) not in blocked and ("04", c.province_code) not in blocked)

    for _ in range(rounds):
        for kind, form, code, factor, least in PLANTS:
            if form == "04":
                provinces = [p for p in sorted(all_clusters) if free("04", p, None)
                             and not any(("03", c.commune_code) in blocked for c in all_clusters[p])]
                if not provinces:
                    continue
                pcode = rng.choice(provinces)
                replaced[("04", pcode)] = aggregate(before[pcode])
                used.add(("04", pcode))
                planted.append(Planted(kind, "04", pcode, pcode, period.code, None, None, None))
                continue
            if form == "01":
                candidates = [(c, q, project_key(c.id, q["tax_code"], q["name"])) for c in sending for q in c.projects]
                candidates = [(c, q, k) for c, q, k in candidates if k in earlier_projects and free("01", k, c)]
                if code is None:  # copied forward: an operating project, so its report holds flows
                    candidates = [(c, q, k) for c, q, k in candidates
                                  if sum(v != 0 for v in earlier_projects[k]["values"].values()) >= 3
                                  and earlier_projects[k]["values"]["1"] > 0]
                else:
                    candidates = [(c, q, k) for c, q, k in candidates if q["values"][code] >= least]
                if not candidates:
                    continue
                c, q, key = rng.choice(candidates)
                values = q["values"]
                source = earlier_projects[key]["values"]
            else:
                options = [c for c in sending if c.id in earlier_clusters and free("02", c.id, c)]
                if code is None:  # copied forward: a cluster with the same projects, whose revenue was not 0
                    options = [c for c in options if len(earlier_clusters[c.id].projects) == len(c.projects)
                               and earlier_clusters[c.id].b02["9"] > 0]
                else:
                    options = [c for c in options if c.b02[code] >= least]
                if not options:
                    continue
                c = rng.choice(options)
                key, values, source = c.id, c.b02, earlier_clusters[c.id].b02
            used.add((form, key))
            if code is None:
                values.clear()
                values.update(source)
                planted.append(Planted(kind, form, key, c.province_code, period.code, None, None, None,
                                       _affected(form, None, c.commune_code, c.province_code)))
                continue
            was = values[code]
            values[code] = float(round(was * factor)) if load_forms()[form].rows_by_code[code].is_integer \
                else _r(was * factor, 6)
            planted.append(Planted(kind, form, key, c.province_code, period.code, code, values[code], was,
                                   _affected(form, code, c.commune_code, c.province_code)))
    return planted, replaced


def _apply(jobs: list[Job], all_clusters: dict[str, list[Cluster]], planted: list[Planted],
           replaced: dict[tuple[str, str], dict[str, float]]) -> None:
    """Give the jobs the planted values: the planted reports' own values, then every report of a commune or
    province above one aggregated again, then the reports replaced whole."""
    values: dict[tuple[str, str], dict[str, float]] = dict(replaced)
    by_project = {project_key(c.id, q["tax_code"], q["name"]): q for cs in all_clusters.values() for c in cs
                  for q in c.projects}
    by_cluster = {c.id: c for cs in all_clusters.values() for c in cs}
    for p in planted:
        if p.form == "01":
            values[("01", p.unit_key)] = dict(by_project[p.unit_key]["values"])
        elif p.form == "02":
            values[("02", p.unit_key)] = dict(by_cluster[p.unit_key].b02)
        for form, unit, _ in p.affects:
            if form == "03":
                values[("03", unit)] = aggregate([c for c in all_clusters[p.province_code] if c.commune_code == unit])
            else:
                values[("04", unit)] = aggregate(all_clusters[unit])
    values.update(replaced)
    for _, contents, keys, _, _ in jobs:
        for content, key in zip(contents, keys, strict=True):
            if (content.form, key) in values:
                content.values = dict(values[(content.form, key)])


def _copied_04_warns(jobs: list[Job], province: str) -> bool:
    """Whether a province's Biểu 04 differs from the sum of its communes' Biểu 03 beyond the tolerance of
    cross.b04_vs_b03 (then it loads with that warning)."""
    rule = rules()["cross.b04_vs_b03"]
    if not isinstance(rule, CrossLevelRule):
        raise TypeError("cross.b04_vs_b03 is a cross-level rule")
    b04 = next(c.values for _, cs, ks, _, f in jobs if f == "04" for c, k in zip(cs, ks, strict=True)
               if k == province)
    b03 = [c.values for _, cs, ks, _, f in jobs if f == "03" for c, k in zip(cs, ks, strict=True)
           if _province_of(c, k) == province]
    return any(excess(b04[code], "==", sum(v[low] for v in b03), rule.tolerance, rule.tolerance_rel) > 0
               for code, low in rule.row_pairs().items())


def province_clusters(rng: random.Random, provinces: int, period: Period,
                      profile: Profile = Profile()) -> dict[str, list[Cluster]]:
    """``provinces`` provinces drawn by ``rng`` (in code order), each with its clusters as ``profile`` sizes them,
    filled for ``period``: what ``generate`` writes, and the benchmarks' workloads."""
    a = admin()
    out: dict[str, list[Cluster]] = {}
    for pcode in sorted(rng.sample(sorted(a.provinces), min(provinces, len(a.provinces)))):
        communes = [c for c in a.communes.values() if c.province_code == pcode]
        with_clusters = rng.sample(communes, min(len(communes), rng.randint(*profile.communes)))
        clusters = _clusters_for(rng, pcode, with_clusters, rng.randint(*profile.clusters))
        for c in clusters:
            _fill_cluster(rng, c, period, profile.project_ha)
        out[pcode] = clusters
    return out


def report_values(all_clusters: dict[str, list[Cluster]]) -> list[tuple]:
    """Every report of those clusters as (form, province, commune, cluster id, unit key, values): per province,
    each cluster's Biểu 02 then its projects' Biểu 01 (none for a planned cluster), each commune's Biểu 03, the
    province's Biểu 04 (the benchmarks load these straight into a warehouse)."""
    out: list[tuple] = []
    for pcode, clusters in all_clusters.items():
        by_commune: dict[str, list[Cluster]] = {}
        for c in clusters:
            by_commune.setdefault(c.commune_code, []).append(c)
            if c.status == "planned":
                continue
            out.append(("02", pcode, c.commune_code, c.id, c.id, dict(c.b02)))
            for q in c.projects:
                out.append(("01", pcode, c.commune_code, c.id, project_key(c.id, q["tax_code"], q["name"]),
                            dict(q["values"])))
        for ccode, cs in by_commune.items():
            out.append(("03", pcode, ccode, None, ccode, aggregate(cs)))
        out.append(("04", pcode, None, None, pcode, aggregate(clusters)))
    return out


def generate(out: Path, period: Period, provinces: int = 3, seed: int = 1, projects: bool = True,
             progress=None, profile: Profile = Profile(), absent_04: int = 0, absent_02: int = 0,
             late_04: int = 0, planted: bool = False) -> dict:
    """Write the sample workbooks under ``out`` and ``out/truth.json``; returns the truth.

    For completeness tests: ``absent_04`` provinces (the last ones) do not send their Biểu 04, ``absent_02``
    clusters with projects (known to the register through their Biểu 01) do not send their Biểu 02, and the
    Biểu 04 of the first ``late_04`` provinces arrives after the deadline.  With the defaults the files are those
    of earlier versions for the same seed.  ``truth["completeness"]`` lists expected, received, on time, late
    and missing reports per form and province.

    ``planted``: the same units also report the period before (``previous_clusters``), written under
    ``out/<that period>/`` with a ``truth.json`` of their own, and implausible values are planted in this period
    (``plant``: one of each of PLANTS, never in a report with a deliberate error nor below one); they are listed
    in ``truth["planted_outliers"]`` and counted in the national summary like any value reported.  The files of
    this period are those without ``planted`` but for the planted values and what adds them up.
    """

    rng = random.Random(seed)
    a = admin()
    forms = load_forms()
    out.mkdir(parents=True, exist_ok=True)
    all_clusters = province_clusters(rng, provinces, period, profile)
    chosen = list(all_clusters)  # the provinces drawn, in code order

    jobs = _jobs(all_clusters, period, rng, projects)

    # several units of one form in one workbook: the first province's first two Biểu 02 share a file
    b02 = [j for j in jobs if j[4] == "02"]
    if len(b02) >= 2:
        first, second = b02[0], b02[1]
        jobs.remove(second)
        i = jobs.index(first)
        jobs[i] = (first[0].replace("bieu02_", "bieu02_nhieu_cum_"), first[1] + second[1], first[2] + second[2],
                   first[3], "02")

    # deliberate errors and late files (never on Biểu 04, so every province reaches the national summary)
    errors: dict[int, str] = {}
    candidates = [i for i, j in enumerate(jobs) if j[4] in ("01", "02", "03") and len(j[1]) == 1]
    picks = rng.sample(candidates, min(4, len(candidates)))
    kinds = ["value.not_a_number", "identity.period_ambiguous", "structure.row_missing", "value.flag_not_binary"]
    for i, kind in zip(picks, kinds, strict=False):
        jobs[i] = (*jobs[i][:3], Typing(), *jobs[i][4:])  # the error, not a typing variation, is what the file shows
        content = jobs[i][1][0]
        if kind == "value.not_a_number":
            code = next(iter(content.values))
            content.values[code] = f"khoảng {int(float(content.values[code]) or 20)}"
        elif kind == "identity.period_ambiguous":
            content.ident.period = None
            content.values = dict(content.values)
        elif kind == "structure.row_missing":
            content.values = dict(content.values)
        elif kind == "value.flag_not_binary" and content.form != "02":
            kind = "value.not_a_number"  # noqa: PLW2901 - no flag row but in Biểu 02: a number error instead
            code = next(iter(content.values))
            content.values[code] = "-"
        elif kind == "value.flag_not_binary":
            content.values["13"] = 2
        errors[i] = kind
    late = set(rng.sample([i for i in range(len(jobs)) if i not in errors], min(3, len(jobs))))
    b04_jobs = [i for i, j in enumerate(jobs) if j[4] == "04"]
    late |= set(b04_jobs[:late_04])
    absent = set(b04_jobs[len(b04_jobs) - absent_04:] if absent_04 else [])
    with_projects = {c.id for cs in all_clusters.values() for c in cs if c.projects} if projects else set()
    single_02 = [i for i, j in enumerate(jobs) if j[4] == "02" and len(j[2]) == 1 and j[2][0] in with_projects
                 and i not in errors and i not in late]
    absent |= set(single_02[len(single_02) - absent_02:] if absent_02 else [])
    plants: list[Planted] = []
    if planted:
        before_period = previous_period(period)
        if generation_of(before_period) != "2025":
            raise ValueError(f"{before_period} was reported by the old provinces and districts: plant outliers in "
                             "2026-H1 or later")
        history_rng = random.Random(f"{seed}-history")  # apart: the draws of this period stay those without
        before = {p: previous_clusters(cs, history_rng, period) for p, cs in all_clusters.items()}
        blocked = frozenset((j[4], k) for i, j in enumerate(jobs) if i in errors or i in absent for k in j[2])
        plants, replaced = plant(random.Random(f"{seed}-planted"), all_clusters, before, period, blocked=blocked)
        _apply(jobs, all_clusters, plants, replaced)
    files = _write(out, jobs, period, rng, errors, late, progress)
    for p in plants:
        if p.form == "04" and p.indicator is None and _copied_04_warns(jobs, p.unit_key):
            f = next(f for f in files if any(r.form == "04" and r.unit_key == p.unit_key for r in f.reports))
            f.warnings.append("cross.b04_vs_b03")
            f.expected_status = Status.ACCEPTED_WITH_WARNINGS

    for n in sorted(absent, reverse=True):  # written (the random draws stay those of the full set), then withheld
        (out / files[n].file).unlink()
        del files[n]
    corrupt = out / f"{chosen[0]}_{slug(a.provinces[chosen[0]].name)}" / "bao_cao_hong.xlsx"
    corrupt.write_bytes(b"PK\x03\x04" + bytes(rng.getrandbits(8) for _ in range(300)))
    files.append(SampleFile(file=str(corrupt.relative_to(out)), reports=[], received_at="", late=False,
                            expected_status=Status.REJECTED, errors=["file.unreadable"]))
    truth = _truth(period, seed, files, forms)
    truth["completeness"] = _completeness_truth(files, all_clusters, list(a.provinces))
    truth["absent"] = [jobs[n][0] for n in sorted(absent)]
    if planted:
        truth["planted_outliers"] = [asdict(p) for p in plants]
        folder = out / before_period.code
        earlier_files = _write(folder, _jobs(before, before_period, history_rng, projects), before_period,
                               history_rng, {}, set())
        earlier = _truth(before_period, seed, earlier_files, forms)
        earlier["completeness"] = _completeness_truth(earlier_files, before, list(a.provinces))
        (folder / "truth.json").write_text(json.dumps(earlier, ensure_ascii=False, indent=1), encoding="utf-8")
        truth["history"] = {"period": before_period.code, "folder": before_period.code, "files": len(earlier_files),
                            "truth": f"{before_period.code}/truth.json"}
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


def _write(out: Path, jobs: list[Job], period: Period, rng: random.Random, errors: dict[int, str], late: set[int],
           progress=None) -> list[SampleFile]:
    """Write every job's workbook under ``out``, its modification time the day it arrived (before the form's
    deadline, or after it for the ``late`` ones); what each holds, for the truth."""
    forms = load_forms()
    deadline_of = {f: period.deadline(forms[f].deadline[period.kind]) for f in forms}
    files: list[SampleFile] = []
    for n, (rel, contents, keys, typing, form) in enumerate(jobs):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        wb = Workbook()
        wb.remove(wb.active)
        reports = []
        for k, (content, key) in enumerate(zip(contents, keys, strict=True)):
            sheet = f"Biểu {content.form}" if len(contents) == 1 else f"Cụm {k + 1}"
            ws = wb.create_sheet(sheet)
            drop_row = errors.get(n) == "structure.row_missing"
            if drop_row:
                spec = forms[content.form]
                content.values.pop(spec.rows[-1].code, None)
            write_form(ws, content, typing)
            if drop_row:
                _delete_row_of(ws, forms[content.form].rows[-1].label_vi)
            reports.append(SampleReport(sheet=sheet, form=content.form, unit_key=key,
                                        province_code=_province_of(content, key),
                                        values={c: float(v) for c, v in content.values.items()
                                                if isinstance(v, (int, float))}))
        wb.save(path)
        deadline = deadline_of[form]
        is_late = n in late
        received = deadline + timedelta(days=rng.randint(1, 9), hours=rng.randint(0, 20)) if is_late else \
            deadline - timedelta(days=rng.randint(1, 14), hours=rng.randint(1, 20))
        ts = received.timestamp()
        os.utime(path, (ts, ts))
        err = [errors[n]] if n in errors else []
        status = Status.REJECTED if err else (Status.ACCEPTED_WITH_WARNINGS if is_late else Status.ACCEPTED)
        files.append(SampleFile(file=rel, reports=reports, received_at=received.isoformat(), late=is_late,
                                expected_status=status, errors=err, warnings=["timeliness.late"] if is_late else []))
        if progress:
            progress(n + 1, len(jobs))
    return files


def _completeness_truth(files: list[SampleFile], all_clusters: dict[str, list[Cluster]],
                        provinces: list[str]) -> list[dict]:
    """Expected reports as the register learns them from the files (every province's 04; the 02 of every cluster
    named in a file; the 01 of every project named in a file; the 03 of every commune with such a cluster or
    that sent one), and which of them arrived accepted, on time or late."""
    seen: dict[tuple[str, str], str] = {}
    received: dict[tuple[str, str], bool] = {}
    for f in files:
        for r in f.reports:
            seen[(r.form, r.unit_key)] = r.province_code
            if f.expected_status != Status.REJECTED:
                received[(r.form, r.unit_key)] = f.late
    expected = {("04", code): code for code in provinces}
    named = {k for (form, k) in seen if form == "02"} | {k.split("/", 1)[0] for (form, k) in seen if form == "01"}
    for pcode, clusters in all_clusters.items():
        for c in clusters:
            if c.id in named:
                expected[("02", c.id)] = pcode
                expected[("03", c.commune_code)] = pcode
    expected.update({key: p for key, p in seen.items() if key[0] in ("01", "03")})
    table: dict[tuple[str, str], dict] = {}
    for (form, unit), pcode in expected.items():
        row = table.setdefault((form, pcode), {"form": form, "province_code": pcode, "expected": 0, "received": 0,
                                               "on_time": 0, "late": 0, "missing": 0})
        row["expected"] += 1
        if (form, unit) in received:
            row["received"] += 1
            row["late" if received[(form, unit)] else "on_time"] += 1
        else:
            row["missing"] += 1
    return sorted(table.values(), key=lambda r: (r["form"], r["province_code"]))


def _province_of(content: FormContent, key: str) -> str:
    return content.ident.province.split(" ", 1)[0]


def _delete_row_of(ws, label: str) -> None:
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == label:
                ws.delete_rows(cell.row)
                return


def _truth(period: Period, seed: int, files: list[SampleFile], forms) -> dict:
    accepted = [f for f in files if f.expected_status != Status.REJECTED]
    b04 = [r for f in accepted for r in f.reports if r.form == "04"]
    national = {}
    spec = forms["04"]
    sums = {row.code: sum(r.values.get(row.code, 0.0) for r in b04) for row in spec.rows}
    for row in spec.rows:
        if row.aggregation == "ratio":
            den = sums[row.denominator]
            value = row.scale * sums[row.numerator] / den if den else None
        else:
            value = sums[row.code]
        # as the form asks for it (forms.toml [unit_decimals]), as the views round it
        national[row.code] = {"value": None if value is None else row.rounded(value),
                              "provinces_reporting": sum(row.code in r.values for r in b04),
                              "indicator_name": row.label_vi, "value_unit_code": row.unit,
                              "value_unit_name": row.unit_vi}
    return {
        "period": period.code, "seed": seed,
        "files": [asdict(f) for f in files],
        "counts": {"files": len(files), **{status: sum(f.expected_status == status for f in files)
                                            for status in (*Status.ACTIVE, Status.REJECTED)},
                   "late": sum(f.late for f in files),
                   "submissions": sum(len(f.reports) for f in files) + sum(not f.reports for f in files)},
        "national_summary": national,
    }


# --- before the 2025 reorganisation (63 provinces, districts) --------------------------------------------------
# A small province: enough clusters for every form, few enough that 63 provinces stay quick to write and read.
PRE2025_SMALL = Profile(communes=(1, 3), clusters=(2, 4))


@dataclass(frozen=True)
class _OldCommune:
    code: str
    name: str
    district_code: str
    district_name: str


def _old_communes(old_province_code: str) -> list[_OldCommune]:
    with open(REFERENCE / "units_pre2025_63prov_v2.4.1.csv", encoding="utf-8", newline="") as fh:
        return [_OldCommune(r["ward_code"], r["ward_name"], r["district_code"], r["district_name"])
                for r in csv.DictReader(fh) if r["province_code"] == old_province_code]


def generate_pre2025(out: Path, period: Period, provinces: int = 63, seed: int = 1,
                     profile: Profile = PRE2025_SMALL, progress=None) -> dict:
    """A consistent set of reports for a period before 2025-07-01 (up to 2025-H1), as the old units sent them:
    Biểu 04 per old province (63), Biểu 03 per district with clusters, Biểu 02 per cluster (in the district
    wording, with the old province, district and commune on the identification lines); no Biểu 01, no
    deliberate errors, all on time.  ``truth["province_series"]`` has Biểu 04 summed onto the 2025 provinces
    (what a like-with-like series shows), ``truth["old_units"]`` which old province each report came from.
    """

    if generation_of(period) != "pre2025":
        raise ValueError(f"{period} was reported by the 2025 provinces: use generate()")
    rng = random.Random(seed)
    a = admin()
    forms = load_forms()
    out.mkdir(parents=True, exist_ok=True)
    chosen = sorted(rng.sample(sorted(a.old_provinces), min(provinces, len(a.old_provinces))))
    used: set[str] = set()
    jobs: list[tuple[str, FormContent, str, str, str]] = []  # path, content, unit key, 2025 province, old province
    for ocode in chosen:
        prov = a.old_provinces[ocode]
        new_code = prov.province_code
        communes = rng.sample(_old_communes(ocode), rng.randint(*profile.communes))
        clusters = _clusters_for(rng, new_code, communes, rng.randint(*profile.clusters))
        for c in clusters:  # two old provinces merged into one: keep their cluster IDs apart
            k = 2
            base = c.name
            while c.id in used:
                c.name = f"{base} {k}"
                c.id = cluster_id(new_code, c.name)
                k += 1
            used.add(c.id)
            _fill_cluster(rng, c, period, profile.project_ha)
        where = {o.code: o for o in communes}
        folder = f"{ocode}_{slug(prov.name)}"
        base_ident: dict[str, Any] = dict(province=prov.label, period=period)
        by_district: dict[str, list[Cluster]] = {}
        for c in clusters:
            by_district.setdefault(where[c.commune_code].district_code, []).append(c)
            if c.status == "planned":
                continue
            o = where[c.commune_code]
            ident = Identification(district=f"{o.district_code} - {o.district_name}", commune=f"{o.code} - {o.name}",
                                   cluster=c.name, tax_code=c.tax_code, sender=c.investor, **base_ident)
            jobs.append((f"{folder}/bieu02_{slug(c.name)}.xlsx", FormContent("02", ident, dict(c.b02), "district"),
                         c.id, new_code, ocode))
        for dcode, cs in by_district.items():
            dname = where[cs[0].commune_code].district_name
            ident = Identification(district=f"{dcode} - {dname}", sender=f"Ủy ban nhân dân {dname}", **base_ident)
            jobs.append((f"{folder}/bieu03_{dcode}_{slug(dname)}.xlsx",
                         FormContent("03", ident, aggregate(cs), "district"), dcode, new_code, ocode))
        ident = Identification(sender=f"Sở Công Thương {prov.name}", **base_ident)
        jobs.append((f"{folder}/bieu04_{ocode}_{slug(prov.name)}.xlsx",
                     FormContent("04", ident, aggregate(clusters), "district"), ocode, new_code, ocode))

    files: list[SampleFile] = []
    old_units: dict[str, str] = {}
    for n, (rel, content, key, new_code, ocode) in enumerate(jobs):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        wb = Workbook()
        ws = wb.active
        ws.title = f"Biểu {content.form}"
        write_form(ws, content)
        wb.save(path)
        received = period.deadline(forms[content.form].deadline[period.kind]) - timedelta(days=rng.randint(1, 14))
        os.utime(path, (received.timestamp(), received.timestamp()))
        files.append(SampleFile(file=rel, reports=[SampleReport(ws.title, content.form, key, new_code,
                                                                {c: float(v) for c, v in content.values.items()})],
                                received_at=received.isoformat(), late=False, expected_status=Status.ACCEPTED))
        old_units[rel] = ocode
        if progress:
            progress(n + 1, len(jobs))
    truth = _truth(period, seed, files, forms)
    b04 = [r for f in files for r in f.reports if r.form == "04"]
    for code in truth["national_summary"]:  # counted on the 2025 provinces, as the views count them
        truth["national_summary"][code]["provinces_reporting"] = len({r.province_code for r in b04
                                                                      if code in r.values})
    truth["province_series"] = province_series(b04, forms)
    truth["old_units"] = old_units
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


def province_series(b04: list[SampleReport], forms=None) -> dict[str, dict[str, float | None]]:
    """Biểu 04 per 2025 province: the reports of the old provinces it absorbed summed, ratios from their parts,
    each rounded as the form asks for it (as the views round it)."""
    spec = (forms or load_forms())["04"]
    out: dict[str, dict[str, float | None]] = {}
    for pcode in sorted({r.province_code for r in b04}):
        mine = [r for r in b04 if r.province_code == pcode]
        sums = {row.code: sum(r.values.get(row.code, 0.0) for r in mine) for row in spec.rows}
        out[pcode] = {}
        for row in spec.rows:
            if row.aggregation != "ratio":
                out[pcode][row.code] = row.rounded(sums[row.code])
            elif sums[row.denominator] and row.scale is not None:  # NULL scale: NULL, as in SQL
                out[pcode][row.code] = row.rounded(row.scale * sums[row.numerator] / sums[row.denominator])
            else:
                out[pcode][row.code] = None
    return out
