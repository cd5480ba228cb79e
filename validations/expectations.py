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
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from schemas.forms import form_codes, load_forms
from validations.catalogue import HERE, Finding, FindingRule, ValueExpectation, finding, fmt, rules
from validations.within_form import checks, form_finding

SUITES = HERE / "suites"
INDEX = "submission_id"
CHECK = "check"
EXCESS = "excess"


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
                     "meta": {"kind": "excess", "checks": covered}}]
    missing = [c for c in covered if c.get("skipped_finding")]
    if missing:
        expectations.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": EXCESS},
                             "meta": {"kind": "missing", "checks": missing}})
    return {"name": f"ccn_bieu_{form}", "form": form, "expectations": expectations}


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

    def suite(self, form: str):
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        spec = suite_spec(form)
        suite = self.gx.ExpectationSuite(name=spec["name"])
        for e in spec["expectations"]:
            suite.add_expectation_configuration(ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"],
                                                                         meta=e["meta"]))
        return self.context.suites.add(suite)

    def run(self, form: str, wide, long, cells: dict, sheets: dict[int, str | None]) -> FormResult:
        """Validate one form's batch (frames from ``batch_frames``); ``cells`` maps (submission_id, code) to
        (sheet, cell)."""
        suite = self.suite(form)
        asset = self.source.add_dataframe_asset(f"bieu_{form}")
        batch = asset.add_batch_definition_whole_dataframe("pending")
        vd = self.context.validation_definitions.add(
            self.gx.ValidationDefinition(name=f"bieu_{form}_pending", data=batch, suite=suite))
        result = vd.run(batch_parameters={"dataframe": long},
                        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [INDEX, CHECK]})
        by_check = {c.column: c for c in checks(form)}
        structure = {s["check"]: s for s in _structure_checks(form)}
        findings: list[tuple[int, Finding]] = []
        for r in result.results:
            if r.success:
                continue
            for hit in r.result.get("unexpected_index_list") or []:
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
        return FormResult(form, len(wide), len(long), len(result.results), findings)

    def build_docs(self) -> Path | None:
        if self.docs_dir is None:
            return None
        self.context.build_data_docs(site_names=["ccn"])
        index = self.docs_dir / "index.html"
        return index if index.exists() else None


def _structure_finding(form: str, rule_id: str, code: str, value, sheet, cell) -> Finding:
    return finding(rule_id, sheet=sheet, cell=cell, indicator_code=code, raw=fmt(value),
                   unit=load_forms()[form].rows_by_code[code].unit_vi)


if __name__ == "__main__":
    for p in write_suites():
        print(f"wrote {p}")
