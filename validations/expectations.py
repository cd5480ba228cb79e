"""Great Expectations suites generated from the rule catalogue, run once per form over a whole batch.

A batch of one form is first a wide frame: one row per pending submission (``submission_id``), one column per
indicator code.  Every check of the form — each expression rule of the catalogue on its row, and the structure
rules visible in the values (flags 0/1, whole counts) — then gives, per submission, how far the report is beyond
what the check allows (``excess``: > 0 breaks it; see ``within_form.Check``).  These go into one *long* frame
(``submission_id``, ``check``, ``excess``), and the form's suite is two expectations on it:

* ``expect_column_values_to_be_between(column="excess", max_value=0)`` — every check at once;
* ``expect_column_values_to_not_be_null(column="excess")`` — the checks whose rule says a check skipped for a
  blank row is a finding of its own (``skipped_finding = true``) keep a row with no excess when they are skipped;
  other skipped checks, and checks that do not apply to the report's period, have no row.

Results are requested with ``result_format=COMPLETE`` and (``submission_id``, ``check``) as the index columns,
so each failing row names its submission and its check, and the finding points at the cell of the check's row
(``indicator_value.sheet/cell``).  The catalogue stays the single source: the suite names every check it covers
in its meta.  Two expectations per form instead of one per check matters: GX spends ~40 ms of fixed work on each
expectation whatever the rows, so a national batch validated with one expectation per check (178 in all) spent
~6 s in that overhead alone.

``python -m validations.expectations`` writes the suites to ``validations/suites/bieu_NN.json`` (what GX
runs, for review and for use in other GX tools); tests keep them equal to what the catalogue generates.
Great Expectations is imported only inside the functions that run it (its import costs ~5 s).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import pandas as pd

from schemas.forms import form_codes, load_forms
from validations.catalogue import HERE, Finding, FindingRule, ValueExpectation, finding, fmt, rules
from validations.within_form import checks, form_finding

SUITES = HERE / "suites"
INDEX = "submission_id"
CHECK = "check"
EXCESS = "excess"
SHEET, CELL = "sheet", "cell"  # where a failing check's row is, named in the Data Docs beside the check and report


def structure_columns(form: str) -> list[tuple[str, str, ValueExpectation]]:
    """(rule id, indicator code, expect spec) for the structure rules with an ``expect`` entry."""
    spec = load_forms()[form]
    out = []
    for rule in rules().values():
        if not isinstance(rule, FindingRule) or rule.expect is None:
            continue
        for row in spec.rows:
            if row.unit in rule.expect.units:
                out.append((rule.id, row.code, rule.expect))
    return out


def _structure_check(rule_id: str, code: str, kind: str) -> str:
    """The name of a structure check (``kind``: ``in_set`` or ``whole``) in the ``check`` column."""
    return f"{rule_id}[{code}]:{kind}"


def _structure_checks(form: str) -> list[dict]:
    """One entry per structure check of ``form``: its name in the ``check`` column and what it computes."""
    out = []
    for rule_id, code, exp in structure_columns(form):
        if exp.in_set:
            out.append({"check": _structure_check(rule_id, code, "in_set"), "rule_id": rule_id,
                        "indicator_code": code, "computed": f"0 if #{{{code}}} in {_numbers(exp.in_set)} else 1"})
        if exp.whole:
            out.append({"check": _structure_check(rule_id, code, "whole"), "rule_id": rule_id,
                        "indicator_code": code, "computed": f"|#{{{code}}} - round(#{{{code}}})|"})
    return out


def _numbers(values) -> list:
    return [int(v) if float(v).is_integer() else v for v in values]


def suite_spec(form: str) -> dict:
    """The suite of ``form`` as plain data (deterministic; saved to ``validations/suites``)."""
    covered = _structure_checks(form)
    for c in checks(form):
        covered.append({"check": c.column, "rule_id": c.rule.id, "indicator_code": c.code,
                        "severity": c.rule.severity,
                        "computed": f"excess of {c.left.expression.text} {c.operator} {c.right.expression.text}",
                        "tolerance": c.tolerance, "tolerance_rel": c.rule.tolerance_rel,
                        "left_missing": c.left.missing, "right_missing": c.right.missing,
                        "periods": ", ".join(c.rule.periods), "description": c.rule.description_en,
                        **({"skipped_finding": True} if c.rule.skipped_finding else {})})
    expectations = [{"type": "expect_column_values_to_be_between",
                     "kwargs": {"column": EXCESS, "max_value": 0},
                     "description": _described("excess", form, len(covered)),
                     "meta": {"kind": "excess", "checks": covered}}]
    missing = [c for c in covered if c.get("skipped_finding")]
    if missing:
        expectations.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": EXCESS},
                             "description": _described("missing", form, len(missing)),
                             "meta": {"kind": "missing", "checks": missing}})
    return {"name": f"ccn_bieu_{form}", "form": form, "expectations": expectations}


_DESCRIPTIONS = {  # what each expectation means, shown by the Data Docs in place of GX's "values must be ..."
    "excess": (("Biểu {form}: {n} kiểm tra của danh mục quy tắc; mỗi báo cáo phải đạt từng kiểm tra "
               "(phần vượt, cột excess, không quá 0). Mỗi dòng sai nêu kiểm tra (mã quy tắc), báo cáo "
               "(submission_id), trang và ô; trang đầu của lượt kiểm tra liệt kê tất cả."),
               ("Form {form}: {n} check{s} of the rule catalogue; every report must meet each of them (the excess "
               "column at most 0). Each failing row names the check (rule id), the report (submission_id), the "
               "sheet and the cell; the first page of the validation run lists them all.")),
    "missing": ("Biểu {form}: {n} kiểm tra không được bỏ trống; một dòng để trống là một phát hiện.",
                "Form {form}: {n} check{s} that may not be left blank; a blank row is a finding of its own."),
}


def _described(kind: str, form: str, n: int) -> str:
    """The description of an expectation: Vietnamese, then English (two paragraphs in the Data Docs)."""
    return "\n\n".join(text.format(form=form, n=n, s="s" * (n != 1)) for text in _DESCRIPTIONS[kind])


def write_suites(folder: Path = SUITES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for form in form_codes():
        path = folder / f"bieu_{form}.json"
        path.write_text(json.dumps(suite_spec(form), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        out.append(path)
    return out


def batch_frames(form: str, values, periods: dict[int, str | None]):
    """(wide, long) frames of one form's batch; ``values`` is a long frame (submission_id, indicator_code,
    value).  ``wide`` has a row per submission and a column per indicator; ``long`` a row per submission and
    applicable check (``submission_id``, ``check``, ``excess``)."""
    codes = [r.code for r in load_forms()[form].rows]
    wide = (values.pivot(index=INDEX, columns="indicator_code", values="value")
            if len(values) else pd.DataFrame(columns=codes, dtype="float64"))
    wide = wide.reindex(index=sorted(periods), columns=codes).astype("float64")
    wide.index.name = INDEX
    wide.columns.name = None
    kinds = pd.Series({sid: (p.rsplit("-", 1)[-1] if isinstance(p, str) else None)
                       for sid, p in periods.items()}, dtype="object").reindex(wide.index)
    parts = []

    def add(name: str, excess, keep=None) -> None:
        """The rows of one check: those with an excess, and those of ``keep`` (checks skipped as a finding)."""
        col = excess[excess.notna() | keep] if keep is not None else excess.dropna()
        parts.append(pd.DataFrame({INDEX: col.index, CHECK: name, EXCESS: col.to_numpy(dtype="float64")}))

    for rule_id, code, exp in structure_columns(form):
        v = wide[code]
        if exp.in_set:
            outside = (~v.isin(exp.in_set)).astype("float64").where(v.notna())
            add(_structure_check(rule_id, code, "in_set"), outside)
        if exp.whole:
            add(_structure_check(rule_id, code, "whole"), (v - v.round()).abs() - 1e-9)
    for c in checks(form):
        applies = kinds.map(c.rule.applies_to).astype(bool)
        keep = c.skipped(wide) if c.rule.skipped_finding else None
        add(c.column, c.excess(wide)[applies], keep[applies] if keep is not None else None)
    long = (pd.concat(parts, ignore_index=True) if parts
            else pd.DataFrame({INDEX: pd.Series(dtype="int64"), CHECK: pd.Series(dtype="object"),
                               EXCESS: pd.Series(dtype="float64")}))
    return wide, long


@dataclass
class FormResult:
    form: str
    rows: int  # submissions
    checks: int  # rows of the long frame: (submission, check) pairs evaluated
    expectations: int
    findings: list[tuple[int, Finding]]
    failing: list[dict] = field(default_factory=list)  # GX's unexpected rows: check, submission_id, sheet, cell, excess


class Runner:
    """One ephemeral GX context for a validation run, with a Data Docs site under ``docs_dir``."""

    def __init__(self, docs_dir: Path | None = None) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        for name, site in dict(self.context.variables.data_docs_sites or {}).items():
            # the ephemeral context's default site lives in a temporary folder of its own: remove both
            self.context.delete_data_docs_site(name)
            folder = (site.get("store_backend") or {}).get("base_directory")
            if folder and Path(folder).is_dir() and Path(folder).parent == Path(tempfile.gettempdir()):
                shutil.rmtree(folder, ignore_errors=True)
        self.docs_dir = docs_dir
        if docs_dir is not None:
            docs_dir.mkdir(parents=True, exist_ok=True)
            self.context.add_data_docs_site(site_name="ccn", site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
        self.source = self.context.data_sources.add_pandas("ccn_batches")
        self.results: list[FormResult] = []  # of the forms validated, for the index of the Data Docs

    def suite(self, form: str):
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        spec = suite_spec(form)
        suite = self.gx.ExpectationSuite(name=spec["name"])
        for e in spec["expectations"]:
            suite.add_expectation_configuration(ExpectationConfiguration(
                type=e["type"], kwargs=e["kwargs"], meta=e["meta"], description=e["description"]))
        return self.context.suites.add(suite)

    def run(self, form: str, wide, long, cells: dict, sheets: dict[int, str | None]) -> FormResult:
        """Validate one form's batch (frames from ``batch_frames``); ``cells`` maps (submission_id, code) to
        (sheet, cell)."""
        suite = self.suite(form)
        asset = self.source.add_dataframe_asset(f"bieu_{form}")
        batch = asset.add_batch_definition_whole_dataframe("pending")
        vd = self.context.validation_definitions.add(
            self.gx.ValidationDefinition(name=f"bieu_{form}_pending", data=batch, suite=suite))
        result = vd.run(batch_parameters={"dataframe": _located(form, long, cells, sheets)},
                        result_format={"result_format": "COMPLETE",
                                       "unexpected_index_column_names": [CHECK, INDEX, SHEET, CELL]})
        by_check = {c.column: c for c in checks(form)}
        structure = {s["check"]: s for s in _structure_checks(form)}
        findings: list[tuple[int, Finding]] = []
        failing: list[dict] = []
        for r in result.results:
            if r.success:
                continue
            hits = r.result.get("unexpected_index_list") or []
            failing += hits
            for hit in hits:
                sid, name = int(hit[INDEX]), hit[CHECK]
                check = by_check.get(name)
                code = check.code if check else structure[name]["indicator_code"]
                sheet, cell = cells.get((sid, code), (sheets.get(sid), None))
                f: Finding | None
                if check is None:
                    f = _structure_finding(form, structure[name]["rule_id"], code, wide.at[sid, code], sheet, cell)
                else:
                    f = form_finding(check, wide.loc[sid].to_dict(), sheet=sheet, cell=cell)
                if f is not None:
                    findings.append((sid, f))
        outcome = FormResult(form, len(wide), len(long), len(result.results), findings, failing)
        self.results.append(outcome)
        return outcome

    def build_docs(self) -> Path | None:
        if self.docs_dir is None:
            return None
        self.context.build_data_docs(site_names=["ccn"])
        offline(self.docs_dir)
        write_index(self.docs_dir, self.results)
        index = self.docs_dir / "index.html"
        return index if index.exists() else None


DOCS_STYLE = HERE / "datadocs" / "ccn-docs.css"
# what the GX pages fetch from other sites (style sheets, scripts, logos, the newsletter link)
_REMOTE = re.compile(r'<link\b[^>]*href="https?://[^"]*"[^>]*>|<script\b[^>]*src="https?://[^"]*"[^>]*>\s*</script>'
                     r'|<img\b[^>]*src="https?://[^"]*"[^>]*>|<p>[^<]*<a href="https?://greatexpectations\.io[^>]*>.*?</p>',
                     re.DOTALL)
_REMOTE_URL = re.compile(r"url\('https?://[^']*'\)")  # a logo in GX's inline style


def offline(site: Path) -> None:
    """Make the Data Docs under ``site`` whole without the internet: every reference to another site is removed
    and the project's style sheet (copied next to the pages) is linked in their place."""
    styles = site / "static" / "styles"
    styles.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DOCS_STYLE, styles / DOCS_STYLE.name)
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        here = Path(*[".."] * (len(page.relative_to(site).parts) - 1), "static", "styles", DOCS_STYLE.name)
        link = f'<link rel="stylesheet" href="{here.as_posix()}">\n</head>'
        html = _REMOTE_URL.sub("none", _REMOTE.sub("", html)).replace("</head>", link, 1)
        page.write_text(html, encoding="utf-8")


def write_index(site: Path, results: list[FormResult]) -> None:
    """The site's first page, in place of GX's (whose lists its scripts draw): per form, the reports validated,
    the checks evaluated, the findings, and links to the validation and the suite."""
    rows = []
    for r in sorted(results, key=lambda r: r.form):
        pages = sorted((site / "validations" / f"ccn_bieu_{r.form}").rglob("*.html"))
        validation = pages[-1].relative_to(site).as_posix() if pages else None
        rows.append(f"<tr><td>Biểu {r.form}</td><td class=num>{r.rows:,}</td><td class=num>{r.checks:,}</td>"
                    f"<td class=num>{len(r.findings):,}</td>"
                    f"<td>{f'<a href={validation!r}>ccn_bieu_{r.form}</a>' if validation else '—'}</td>"
                    f"<td><a href='expectations/ccn_bieu_{r.form}.html'>ccn_bieu_{r.form}</a></td></tr>")
    site.joinpath("index.html").write_text(f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Kiểm tra theo danh mục quy tắc — Great Expectations</title>
<link rel="stylesheet" href="static/styles/{DOCS_STYLE.name}"></head>
<body><main class="container-fluid">
<h1>Kết quả kiểm tra theo biểu của lượt kiểm tra</h1>
<p class="lead">Results of the rule catalogue's checks per form in this validation run</p>
<table class="table"><thead><tr><th>Biểu<br><small>Form</small></th><th class=num>Báo cáo<br><small>Reports</small></th>
<th class=num>Lượt kiểm tra<br><small>Checks evaluated</small></th>
<th class=num>Phát hiện trong biểu<br><small>Within-form findings</small></th>
<th>Kết quả<br><small>Validation</small></th><th>Bộ kỳ vọng<br><small>Suite</small></th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<h2>Các dòng sai <small>Failing rows</small></h2>
<p>Mọi dòng sai của từng biểu (trang kết quả của GX chỉ hiện một mẫu): kiểm tra (mã quy tắc), báo cáo, trang, ô và
phần vượt; thông điệp của từng phát hiện: <code>ccn findings</code>.</p>
<p>Every failing row of each form (GX's validation pages show a sample): the check (rule id), the report, the sheet,
the cell and the excess; each finding's message: <code>ccn findings</code>.</p>
{"".join(_failing_table(r) for r in sorted(results, key=lambda r: r.form) if r.failing)}
</main></body></html>
""", encoding="utf-8")


def _failing_table(result: FormResult) -> str:
    """The failing rows of one form's validation, ordered by report and check."""
    rows = "".join(
        f"<tr><td>{escape(str(hit[CHECK]))}</td><td class=num>{int(hit[INDEX])}</td>"
        f"<td>{escape(str(hit.get(SHEET) or ''))}</td><td>{escape(str(hit.get(CELL) or ''))}</td>"
        f"<td class=num>{'' if pd.isna(hit.get(EXCESS)) else f'{float(hit[EXCESS]):.6g}'}</td></tr>"
        for hit in sorted(result.failing, key=lambda h: (int(h[INDEX]), str(h[CHECK]))))
    return (f"<h3>Biểu {result.form}</h3><table class=table><thead><tr><th>Kiểm tra<br><small>Check</small></th>"
            "<th class=num>Báo cáo<br><small>submission_id</small></th><th>Trang<br><small>Sheet</small></th>"
            "<th>Ô<br><small>Cell</small></th><th class=num>Phần vượt<br><small>Excess</small></th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _located(form: str, long, cells: dict, sheets: dict[int, str | None]):
    """``long`` with the sheet and cell of the check's row on each failing row (blank on the others, which the
    Data Docs never show), so that the unexpected rows of the docs say where to look."""
    code_of = {c.column: c.code for c in checks(form)} | {s["check"]: s["indicator_code"]
                                                          for s in _structure_checks(form)}
    failing = long.index[~(long[EXCESS] <= 0)]
    where = [cells.get((int(sid), code_of[check]), (sheets.get(int(sid)), None))
             for sid, check in zip(long.loc[failing, INDEX], long.loc[failing, CHECK], strict=True)]
    located = long.assign(**{SHEET: "", CELL: ""})
    located.loc[failing, SHEET] = [sheet or "" for sheet, _ in where]
    located.loc[failing, CELL] = [cell or "" for _, cell in where]
    return located


def _structure_finding(form: str, rule_id: str, code: str, value, sheet, cell) -> Finding:
    return finding(rule_id, sheet=sheet, cell=cell, indicator_code=code, raw=fmt(value),
                   unit=load_forms()[form].rows_by_code[code].unit_vi)


if __name__ == "__main__":
    for p in write_suites():
        print(f"wrote {p}")
