"""``ccn check``: the offline check a province runs on its workbooks before sending them.

Each file is read exactly as the pipeline reads it (pipelines/read/workbook.py), its reports identified
(pipelines/read/identify.py) and their values checked against the within-form rules of the catalogue
(validations/rules.toml), each failed check worded by ``validations.within_form.form_finding`` as the pipeline
words it; a province's cluster register workbook is checked as a register.  Nothing is written
anywhere: the result is the list of findings, each with its sheet and cell and a message in Vietnamese and
English.

``ccn check`` takes files and folders: a folder is searched recursively for workbooks (:func:`collect`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.load.ingest import folder_conflict
from pipelines.read.identify import repeated_units, resolve_units, unit_of
from pipelines.read.register import read_register
from pipelines.read.sheets import EXTENSIONS
from pipelines.read.workbook import read_workbook
from schemas.text import bilingual
from validations.catalogue import Finding, finding
from validations.within_form import checks, form_finding


@dataclass
class SheetCheck:
    sheet: str | None
    what: str  # "Biểu số 02 · 2026-H1 · Tỉnh Lào Cai · …" or "Danh sách cụm công nghiệp · …"
    values: int
    findings: list[Finding] = field(default_factory=list)
    counted: tuple[str, str] = ("giá trị", "values")  # what ``values`` counts, in Vietnamese and English
    period: str | None = None  # the period the report is for, when it was identified


@dataclass
class FileCheck:
    path: Path
    sheets: list[SheetCheck] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # about the file as a whole

    @property
    def all_findings(self) -> list[Finding]:
        return self.findings + [f for s in self.sheets for f in s.findings]

    @property
    def errors(self) -> int:
        return sum(f.is_error for f in self.all_findings)

    @property
    def warnings(self) -> int:
        return sum(not f.is_error for f in self.all_findings)


def register_check(path: Path, register) -> FileCheck:
    """The check of a file read as a cluster register (``reader.RegisterReading``)."""
    out = FileCheck(path)
    what = " · ".join(p for p in ("Danh sách cụm công nghiệp", register.province_name) if p)
    out.sheets.append(SheetCheck(register.sheet, what, len(register.rows), register.findings, ("cụm", "clusters")))
    return out


@dataclass
class Collected:
    """What ``ccn check`` was given, expanded: the workbooks to check, in order, and what was left aside."""

    files: list[Path] = field(default_factory=list)
    empty_folders: list[Path] = field(default_factory=list)  # folders holding no workbook at all
    skipped: int = 0  # other files found in the folders (not workbooks, hidden, office lock files)


def is_workbook_name(name: str) -> bool:
    """A workbook by its name: one of the reader's EXTENSIONS, not hidden, not an office lock file (``~$…``)."""
    return name.lower().endswith(EXTENSIONS) and not name.startswith((".", "~$"))


def workbooks_in(folder: Path) -> tuple[list[Path], int]:
    """Every workbook under ``folder`` (recursively, hidden folders left out, links not followed), sorted by
    path; and how many other files were left aside."""
    found, skipped = [], 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if is_workbook_name(name):
                found.append(Path(root) / name)
            else:
                skipped += 1
    return sorted(found), skipped


def collect(paths: list[Path]) -> Collected:
    """Files as given (whatever their name: a file named on the command line is always checked) and the workbooks
    of every folder."""
    out = Collected()
    for path in paths:
        if path.is_dir():
            found, skipped = workbooks_in(path)
            out.files += found
            out.skipped += skipped
            if not found:
                out.empty_folders.append(path)
        else:
            out.files.append(path)
    return out


def check_file(path: Path, folders: list[str] | None = None) -> FileCheck:
    """The findings of one workbook.  ``folders``: the inbox folders the file will be delivered into (the
    portal's upload, pipelines/steward/upload.py); when given, the units are resolved with them as the run
    resolves them and a report of a province other than the folders' gets the run's error
    (``identity.province_folder_conflict``).  Without them, the name of the folder holding the file helps
    identify the units, and no folder is taken for a province's own."""
    out = FileCheck(path)
    if not path.is_file():
        out.findings.append(finding("file.unreadable", reason_vi="không có tệp này", reason_en="no such file"))
        return out
    reading = read_workbook(path)
    if not reading.reports and any(f.rule_id == "structure.form_not_found" for f in reading.findings):
        register = read_register(path)
        if not any(f.rule_id == "register.header_not_found" for f in register.findings):
            return register_check(path, register)
    out.findings.extend(reading.findings)
    delivered = folders is not None
    folders = list(folders) if folders is not None else [path.resolve().parent.name]
    found = []
    for report in reading.reports:
        who = resolve_units(report, path.name, folders)
        found.append((report, who))
    keys = [(r.sheet, r.form, w.period.code if w.period else None, *unit_of(w, r.spec.sender_level)) for r, w in found]
    for (report, who), again in zip(found, repeated_units(keys), strict=True):  # the same unit twice in one file
        parts = [report.spec.label, who.period.code if who.period else None,
                 (who.old_province_name and f"{who.old_province_name} (→ {who.province_name})") or who.province_name,
                 who.district_name, who.commune_name, who.cluster_name, who.project_name]
        sheet = SheetCheck(report.sheet, " · ".join(p for p in parts if p), len(report.values),
                           report.findings + who.findings + again, period=who.period.code if who.period else None)
        if delivered:
            sheet.findings.extend(folder_conflict(who.province_code, folders, report.sheet))
        sheet.findings.extend(within_form(report, who.period.code if who.period else None))
        out.sheets.append(sheet)
    return out


def within_form(report, period: str | None) -> list[Finding]:
    """The catalogue's within-form rules (SPEC §6) that apply to ``period`` over the values read from one sheet,
    worded as the validate stage words them."""
    values = {c: v.value for c, v in report.values.items()}
    out = []
    for check in checks(report.form):
        if not check.rule.applies_to(period):
            continue
        value = report.values.get(check.code)
        f = form_finding(check, values, sheet=report.sheet, cell=value.cell if value else None)
        if f is not None:
            out.append(f)
    return out


def format_check(result: FileCheck) -> str:
    """The findings of one file for a terminal: where, rule, then the message in Vietnamese and in English."""
    lines = [f"== {result.path}"]
    for f in result.findings:
        lines += _finding_lines(f)
    for s in result.sheets:
        vi, en = s.counted
        lines.append(f"   \"{s.sheet}\": {s.what}: {s.values} {vi} — {s.values} {en}")
        for f in sorted(s.findings, key=lambda f: (not f.is_error, _cell_order(f.cell))):
            lines += _finding_lines(f)
    if not result.all_findings:
        lines.append("   OK: không có lỗi hay cảnh báo — no errors or warnings")
    return "\n".join(lines)


def format_total(results: list[FileCheck]) -> str:
    """The last line of ``ccn check``: how many files, how many with errors, errors and warnings, the verdict."""
    n, bad = len(results), sum(1 for r in results if r.errors)
    errors, warnings = sum(r.errors for r in results), sum(r.warnings for r in results)
    vi = f"{n} tệp ({bad} tệp có lỗi): {errors} lỗi, {warnings} cảnh báo; " + \
        ("sửa các lỗi trước khi gửi." if errors else "có thể gửi.")
    en = f"{n} files ({bad} with errors): {errors} errors, {warnings} warnings; " + \
        ("fix the errors before sending." if errors else "ready to send.")
    return bilingual(vi, en)


def _finding_lines(f: Finding) -> list[str]:
    kind = "LỖI / ERROR     " if f.is_error else "cảnh báo / warn "
    where = f.where() or "(tệp / file)"
    return [f"   {kind} {where:<22} {f.rule_id}", f"        {f.message_vi}", f"        {f.message_en}"]


def _cell_order(cell: str | None) -> tuple[int, str]:
    if not cell:
        return (0, "")
    digits = "".join(ch for ch in cell if ch.isdigit())
    return (int(digits or 0), cell)


def as_dict(result: FileCheck) -> dict:
    def one(f: Finding, sheet: str | None = None) -> dict:
        return {"rule_id": f.rule_id, "severity": f.severity, "sheet": f.sheet or sheet, "cell": f.cell,
                "indicator_code": f.indicator_code, "message_vi": f.message_vi, "message_en": f.message_en}

    return {"file": str(result.path), "errors": result.errors, "warnings": result.warnings,
            "findings": [one(f) for f in result.findings],
            "sheets": [{"sheet": s.sheet, "what": s.what, "values": s.values,
                        "findings": [one(f, s.sheet) for f in s.findings]} for s in result.sheets]}
