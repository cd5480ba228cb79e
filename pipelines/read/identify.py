"""Who sent a report and for which period (SPEC §2, §4).

The official forms do not identify the unit in a structured way.  The identification lines of the national
template, the sender text after ``Đơn vị gửi báo cáo``, the sheet name, the file name and the folder are
tried in that order; a unit that stays unknown is an error for a steward to settle, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipelines.read.report import Report
from schemas.admin import MERGER_DATE, Unit, admin, names_province_only
from schemas.keys import cluster_key, project_key
from schemas.periods import Period, period_kind
from schemas.text import clean, loose_key
from validations.catalogue import Finding, finding


@dataclass
class Identity:
    period: Period | None = None
    province_code: str | None = None  # 2025 code
    province_name: str | None = None
    commune_code: str | None = None  # 2025 code
    commune_name: str | None = None
    cluster_name: str | None = None
    project_name: str | None = None
    tax_code: str | None = None
    sender: str | None = None
    findings: list[Finding] = field(default_factory=list)
    # the administrative generation the report is written in: "2025" (34 provinces, communes) or "pre2025"
    # (63 provinces, districts; periods up to 2025-H1).  For a pre-2025 report ``province_code`` is still the
    # 2025 province the old one merged into; the old units are kept beside it.
    generation: str | None = None
    old_province_code: str | None = None
    old_province_name: str | None = None
    district_code: str | None = None  # pre-2025 district (Biểu 03 was sent by districts until 2025-06-30)
    district_name: str | None = None
    old_commune_code: str | None = None
    old_commune_name: str | None = None


# --- period ---------------------------------------------------------------------------------------------------
_YEAR = re.compile(r"(?<!\d)(20[2-9]\d)(?!\d)")


def _period_from_file_name(name: str) -> tuple[str | None, int | None]:
    key = loose_key(name.rsplit(".", 1)[0].replace("_", " ").replace("-", " "))
    years = _YEAR.findall(key)
    year = int(years[-1]) if years else None
    m = re.search(r"20\d\d\s*(h1|y)\b", key)
    if m:
        return ("H1" if m.group(1) == "h1" else "Y"), year
    kind = period_kind(key)
    return (kind if kind != "ambiguous" else None), year


def resolve_period(report: Report, file_name: str) -> tuple[Period | None, list[Finding]]:
    findings: list[Finding] = []
    h = report.header
    text, cell = h.get("period", ("", None))
    kind = period_kind(text) if text else None
    if kind == "ambiguous":
        return None, [finding("identity.period_ambiguous", sheet=report.sheet, cell=cell, text=text)]
    years = _YEAR.findall(text)
    year = int(years[-1]) if years else None
    year_text, year_cell = h.get("year", ("", None))
    if year_text:
        y2 = _YEAR.findall(year_text)
        if y2:
            if year and int(y2[0]) != year:
                findings.append(finding("identity.period_conflict", sheet=report.sheet, cell=year_cell,
                                        a=text, b=year_text))
            year = year or int(y2[0])
    f_kind, f_year = _period_from_file_name(file_name)
    if kind and f_kind and kind != f_kind and findings == []:
        pass  # the workbook's own words win over a file name
    kind = kind or f_kind
    year = year or f_year
    if findings:
        return None, findings
    if not kind or not year:
        missing = "kind (6 tháng / năm)" if not kind else "year"
        cell = cell or report.empty_lines.get("period" if not kind else "year") or report.empty_lines.get("period")
        return None, [finding("identity.period_missing", sheet=report.sheet, cell=cell,
                              detail=f" ({missing}; looked at 'Kỳ báo cáo', 'Năm báo cáo' and the file name)")]
    return Period(year, kind), []


# --- units -------------------------------------------------------------------------------------------------------
def _candidates(report: Report, field_name: str, file_name: str, folders: list[str]) -> list[tuple[str, str | None]]:
    """Texts that may name a unit, best source first: identification line, sender, sheet, file, folders."""
    out: list[tuple[str, str | None]] = []
    if field_name in report.header:
        out.append(report.header[field_name])
    if "sender" in report.header:
        out.append(report.header["sender"])
    out.append((report.sheet, None))
    out.append((_file_words(file_name), None))
    out.extend((re.sub(r"[_\-]+", " ", f), None) for f in reversed(folders))
    return out


def _lower_candidates(report: Report, field_name: str, file_name: str, folders: list[str], province: Unit | None,
                      ) -> list[tuple[str, str | None]]:
    """The candidates that may name a district or commune, without the texts that merely name the report's own
    province: a folder ``Lào Cai`` (or a sender ``UBND tỉnh Lào Cai``) is the province's and no evidence of
    ``Phường Lào Cai`` or of ``Thành phố Lào Cai``; only a kind word (``Phường``, ``Huyện``, ``TP`` of a Tỉnh) or
    the identification line makes such a name a lower unit's."""
    out = _candidates(report, field_name, file_name, folders)
    if province is None:
        return out
    scope = (province.generation, province.code)
    first = 1 if field_name in report.header else 0  # an identification line is explicit: it is never dropped
    return out[:first] + [(text, cell) for text, cell in out[first:] if not _names_own_province(text, scope)]


def _names_own_province(text: str, scope: tuple[str, str]) -> bool:
    units = [u for u in admin().find_province(text, scope[0]) if (u.generation, u.code) == scope]
    return names_province_only(text, units)


def _file_words(file_name: str) -> str:
    return re.sub(r"[_\-]+", " ", file_name.rsplit(".", 1)[0])


def _one(units: list[Unit]) -> Unit | None:
    return units[0] if len({u.code for u in units}) == 1 else None


def generation_of(report: Report, period: Period | None) -> str:
    """``pre2025`` for a report on a period before the 2025 reorganisation (or, without a period, written in the
    district wording), ``2025`` otherwise."""
    if period is not None:
        return "pre2025" if period.end < MERGER_DATE else "2025"
    return "pre2025" if report.wording == "district" or "district" in report.header else "2025"


def _code_in_file(file_name: str, folders: list[str], table: dict[str, Unit], width: int, scope: str) -> Unit | None:
    """A unit code written in the file or folder name (``bieu03_12345_…``) that belongs to ``scope``."""
    for text in [file_name, *reversed(folders)]:
        codes = set(re.findall(rf"(?<!\d)(\d{{{width}}})(?!\d)", text))
        units = [table[c] for c in codes if c in table and table[c].province_code == scope]
        if len(units) == 1:
            return units[0]
    return None


def resolve_units(report: Report, file_name: str, folders: list[str] | None = None) -> Identity:
    """Period, province, commune (or district), cluster and project of a report, with findings for what stays
    unknown.  Units are resolved in the generation of the report's period."""
    folders = folders or []
    a = admin()
    ident = Identity(sender=report.header.get("sender", ("", ""))[0] or None)
    ident.period, ident.findings = resolve_period(report, file_name)
    gen = ident.generation = generation_of(report, ident.period)
    level = report.spec.sender_level

    # province: explicit line first, then any other source that names exactly one province
    province: Unit | None = None
    explicit = report.header.get("province")
    if explicit:
        province = _one(a.find_province(explicit[0], gen))
        if province is None:
            ident.findings.append(finding("identity.province_unresolved", sheet=report.sheet, cell=explicit[1],
                                          detail=f": \"{explicit[0]}\" is not a province name or code"))
            return ident
    commune: Unit | None = None
    commune_line = report.header.get("commune")
    if commune_line and gen == "2025":
        commune = _one(a.find_commune(commune_line[0], province.province_code if province else None))
    if province is None and commune is not None:
        province = a.provinces[commune.province_code]
    if province is None:
        for text, _cell in _candidates(report, "province", file_name, folders)[1 if explicit else 0:]:
            province = _one(a.find_province(text, gen))
            if province:
                break
    if province is None:
        blank = report.empty_lines.get("province")
        ident.findings.append(finding("identity.province_unresolved", sheet=report.sheet, cell=blank,
                                      detail=(" (the 'Tỉnh, thành phố' line is empty; " if blank
                                              else " (no 'Tỉnh/Thành phố' line; ")
                                      + "sender, sheet, file and folder names name no province)"))
        return ident
    ident.province_code = province.province_code
    ident.province_name = (a.provinces[province.province_code].name if province.province_code in a.provinces
                           else province.name)
    if province.generation == "pre2025":
        ident.old_province_code, ident.old_province_name = province.code, province.name

    if gen == "pre2025" and level in ("commune", "cluster", "project"):
        _resolve_old_units(ident, report, file_name, folders, level)
    elif level in ("commune", "cluster", "project"):
        if commune is None:
            own = a.provinces.get(ident.province_code)
            for text, _cell in _lower_candidates(report, "commune", file_name, folders, own)[1 if commune_line else 0:]:
                commune = _one(a.find_commune(text, ident.province_code))
                if commune:
                    break
        if commune is None and not commune_line:
            commune = _code_in_file(file_name, folders, a.communes, 5, ident.province_code)
        if commune is not None:
            ident.commune_code, ident.commune_name = commune.code, commune.name
        elif level == "commune" or commune_line:  # a commune typed but not found is never dropped silently
            detail = f": \"{commune_line[0]}\" is not a commune of {ident.province_name}" if commune_line else \
                " (no 'Xã, phường' line and the sender names no commune)"
            ident.findings.append(finding("identity.commune_unresolved", sheet=report.sheet,
                                          cell=commune_line[1] if commune_line else None, detail=detail))
    if level in ("cluster", "project"):
        cl = report.header.get("cluster")
        if cl and cluster_key(cl[0]):
            ident.cluster_name = clean(cl[0])
        else:
            ident.findings.append(finding("identity.cluster_unresolved", sheet=report.sheet,
                                          detail=" (no 'Cụm công nghiệp' line names the cluster)"))
    if level == "project":
        ident.project_name = report.header.get("project", ("", None))[0] or None
        ident.tax_code = report.header.get("tax_code", ("", None))[0] or None
        if not ident.project_name and not ident.tax_code:
            ident.findings.append(finding("identity.project_unresolved", sheet=report.sheet,
                                          detail=" (no project name after 'Tên dự án' and no tax code)"))
    elif level == "cluster":
        ident.tax_code = report.header.get("tax_code", ("", None))[0] or None
    return ident


def _resolve_old_units(ident: Identity, report: Report, file_name: str, folders: list[str], level: str) -> None:
    """District (and commune) of a pre-2025 report, in its old province; the 2025 commune when it is unique."""
    a = admin()
    old = ident.old_province_code
    if old is None:  # a 2025 province named in a pre-2025 report: its namesake predecessor
        old = ident.province_code if ident.province_code in a.old_provinces else None
        if old:
            ident.old_province_code, ident.old_province_name = old, a.old_provinces[old].name
    district: Unit | None = None
    line = report.header.get("district")
    if old:
        sources = _lower_candidates(report, "district", file_name, folders, a.old_provinces.get(old))
        for text, _cell in sources if line is None else sources[:1]:
            district = _one(a.find_district(text, old))
            if district:
                break
    if district is not None:
        ident.district_code, ident.district_name = district.code, district.name
    elif level == "commune" or line:
        detail = f": \"{line[0]}\" is not a district of {ident.old_province_name}" if line else \
            " (no 'Quận, huyện' line and the sender names no district)"
        sender = report.header.get("sender")
        named = _one(a.find_old_commune(sender[0], old)) if sender and old and not line else None
        if named is not None:  # a commune's report in the district era: its district is not guessed from it
            detail = (f" (no 'Quận, huyện' line; the sender names {named.name}, a commune of {named.parent_name}, "
                      f"and a Biểu 03 before 2025-07-01 is the district's report)")
        ident.findings.append(finding("identity.district_unresolved", sheet=report.sheet,
                                      cell=line[1] if line else None, detail=detail))
    commune_line = report.header.get("commune")
    if commune_line and old:
        found = _one(a.find_old_commune(commune_line[0], old, ident.district_code))
        if found:
            ident.old_commune_code, ident.old_commune_name = found.code, found.name
            targets = {u.code: u for u in a.successors(found.code)}
            if len(targets) == 1:
                (new,) = targets.values()
                ident.commune_code, ident.commune_name = new.code, new.name


# --- one unit twice in one file -----------------------------------------------------------------------------------
def unit_of(ident: Identity, level: str) -> tuple[str | None, str | None]:
    """The unit a report counts for, as (key, name), as far as the report alone tells (the warehouse also maps a
    cluster's aliases): the province, the commune (the district before 2025-07-01), the cluster or the project."""
    if not ident.province_code:
        return None, None
    if level == "province":
        if ident.generation == "pre2025" and ident.old_province_code:
            return ident.old_province_code, ident.old_province_name
        return ident.province_code, ident.province_name
    if level == "commune":
        if ident.generation == "pre2025":
            return ident.district_code, ident.district_name
        return ident.commune_code, ident.commune_name
    if not ident.cluster_name:
        return None, None
    cluster = f"{ident.province_code}/{cluster_key(ident.cluster_name)}"
    if level == "cluster":
        return cluster, ident.cluster_name
    if ident.project_name or ident.tax_code:
        return project_key(cluster, ident.tax_code, ident.project_name), ident.project_name or ident.tax_code
    return None, None


def repeated_units(reports: Sequence[tuple[str | None, str | None, str | None, str | None, str | None]]
                   ) -> list[list[Finding]]:
    """For the reports of one file as (sheet, form, period, unit key, unit name): an ``identity.unit_repeated_in_file``
    error on every report whose form, period and unit another sheet of the same file repeats (one list per report).
    The sheets of a file arrive together, so none of them is the later one that would supersede the others."""
    groups: dict[tuple, list[int]] = {}
    for i, (_sheet, form, period, key, _name) in enumerate(reports):
        if form and period and key:
            groups.setdefault((form, period, key), []).append(i)
    out: list[list[Finding]] = [[] for _ in reports]
    for (form, period, key), same in groups.items():
        if len(same) < 2:
            continue
        sheets = ", ".join(f"\"{reports[i][0]}\"" for i in same)
        for i in same:
            out[i].append(finding("identity.unit_repeated_in_file", sheet=reports[i][0], sheets=sheets, form=form,
                                  period=period, unit=reports[i][4] or key))
    return out
