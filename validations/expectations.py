"""Great Expectations suites generated from the rule catalogue, run once per form over a whole batch.

A batch of one form is a wide frame: one row per pending submission (``submission_id``), one column per
indicator code, plus one computed column per expression rule holding how far the report is beyond what the rule
allows (``excess``: > 0 breaks it, NaN means not checked, see ``catalogue.Check``).  Every expression rule is
therefore the same expectation, ``expect_column_values_to_be_between(column=<rule>, max_value=0)``, and the
catalogue stays the single source: the suite only names the rule.  Structure rules that can be seen in the frame
(flags 0/1, whole counts) are expectations on the indicator columns themselves.

Results are requested with ``result_format=COMPLETE`` and ``submission_id`` as the index column, so each failing
row names its submission; the finding points at the cell of the rule's row (``indicator_value.sheet/cell``).

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

from validations.catalogue import HERE, Check, Finding, checks, fmt, rules

SUITES = HERE / "suites"
INDEX = "submission_id"
FORMS = ("01", "02", "03", "04")


def structure_columns(form: str) -> list[tuple[str, str, dict]]:
    """(rule id, indicator code, expect spec) for the structure rules with an ``expect`` entry."""
    from schemas.forms import load_forms

    spec = load_forms()[form]
    out = []
    for rule in rules().values():
        exp = rule.extra.get("expect")
        if not exp:
            continue
        for row in spec.rows:
            if row.unit in exp.get("units", ()):
                out.append((rule.id, row.code, exp))
    return out


def suite_spec(form: str) -> dict:
    """The suite of ``form`` as plain data (deterministic; saved to ``validations/suites``)."""
    expectations = []
    for rule_id, code, exp in structure_columns(form):
        meta = {"rule_id": rule_id, "indicator_code": code}
        if "in_set" in exp:
            expectations.append({"type": "expect_column_values_to_be_in_set",
                                 "kwargs": {"column": code, "value_set": list(exp["in_set"])}, "meta": meta})
        if exp.get("whole"):
            expectations.append({"type": "expect_column_values_to_be_between",
                                 "kwargs": {"column": f"{rule_id}[{code}]", "max_value": 0},
                                 "meta": {**meta, "computed": f"|#{{{code}}} - round(#{{{code}}})|"}})
    for c in checks(form):
        meta = {"rule_id": c.rule.id, "indicator_code": c.code, "severity": c.rule.severity,
                "computed": f"excess of {c.left.text} {c.operator} {c.right.text}",
                "tolerance": c.tolerance, "tolerance_rel": c.tolerance_rel, "missing": c.missing,
                "description": c.rule.description_en}
        expectations.append({"type": "expect_column_values_to_be_between",
                             "kwargs": {"column": c.column, "max_value": 0}, "meta": meta})
        if c.missing == "finding":
            expectations.append({"type": "expect_column_values_to_not_be_null",
                                 "kwargs": {"column": c.column},
                                 "meta": {**meta, "kind": "missing"}})
    return {"name": f"ccn_bieu_{form}", "form": form, "expectations": expectations}


def write_suites(folder: Path = SUITES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for form in FORMS:
        path = folder / f"bieu_{form}.json"
        path.write_text(json.dumps(suite_spec(form), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        out.append(path)
    return out


def batch_frame(form: str, values, periods: dict[int, str | None]):
    """The wide frame of one form's batch: ``values`` is a long frame (submission_id, indicator_code, value)."""
    import numpy as np
    import pandas as pd

    from schemas.forms import load_forms

    codes = [r.code for r in load_forms()[form].rows]
    wide = (values.pivot(index=INDEX, columns="indicator_code", values="value")
            if len(values) else pd.DataFrame(columns=codes, dtype="float64"))
    wide = wide.reindex(index=sorted(periods), columns=codes).astype("float64")
    wide.index.name = INDEX
    wide.columns.name = None
    kinds = pd.Series({sid: (p.rsplit("-", 1)[-1] if isinstance(p, str) else None)
                       for sid, p in periods.items()}, dtype="object").reindex(wide.index)
    computed = {}
    for rule_id, code, exp in structure_columns(form):
        if exp.get("whole"):
            computed[f"{rule_id}[{code}]"] = (wide[code] - wide[code].round()).abs() - 1e-9
    for c in checks(form):
        col = c.excess(wide)
        allowed = c.rule.extra.get("periods")
        if allowed:
            col = col.where(kinds.isin(allowed) | kinds.isna(), np.nan)
        computed[c.column] = col
    frame = pd.concat([wide, pd.DataFrame(computed, index=wide.index)], axis=1)
    return frame.reset_index()


@dataclass
class FormResult:
    form: str
    rows: int
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

    def run(self, form: str, frame, cells: dict, sheets: dict[int, str | None]) -> FormResult:
        """Validate one form's batch; ``cells`` maps (submission_id, code) to (sheet, cell)."""
        suite = self.suite(form)
        asset = self.source.add_dataframe_asset(f"bieu_{form}")
        batch = asset.add_batch_definition_whole_dataframe("pending")
        vd = self.context.validation_definitions.add(
            self.gx.ValidationDefinition(name=f"bieu_{form}_pending", data=batch, suite=suite))
        result = vd.run(batch_parameters={"dataframe": frame},
                        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [INDEX]})
        by_sid = frame.set_index(INDEX)
        by_check = {c.column: c for c in checks(form)}
        findings: list[tuple[int, Finding]] = []
        for r in result.results:
            if r.success:
                continue
            meta = r.expectation_config.meta or {}
            rule_id, code = meta["rule_id"], meta["indicator_code"]
            column = r.expectation_config.kwargs["column"]
            for hit in r.result.get("unexpected_index_list") or []:
                sid = int(hit[INDEX])
                sheet, cell = cells.get((sid, code), (sheets.get(sid), None))
                check = by_check.get(column)
                if check is None:
                    f = _structure_finding(form, rule_id, code, by_sid.at[sid, code], sheet, cell)
                elif meta.get("kind") == "missing":
                    f = _missing_finding(check, by_sid.loc[sid], sheet, cell)
                else:
                    f = _rule_finding(check, by_sid.loc[sid], sheet, cell)
                findings.append((sid, f))
        return FormResult(form, len(frame), len(result.results), findings)

    def build_docs(self) -> Path | None:
        if self.docs_dir is None:
            return None
        self.context.build_data_docs(site_names=["ccn"])
        index = self.docs_dir / "index.html"
        return index if index.exists() else None


def _label(form: str, code: str) -> str:
    from schemas.forms import load_forms

    return load_forms()[form].rows_by_code[code].label_vi


def _rule_finding(check: Check, row, sheet, cell) -> Finding:
    import pandas as pd

    frame = pd.DataFrame([row])
    left, right = (s.iloc[0] for s in check.sides(frame))
    rule = check.rule
    params = {"left": fmt(left), "right": fmt(right), "code": check.code, "label": _label(check.form, check.code),
              "left_expr": check.left.text, "right_expr": check.right.text}
    return Finding(rule_id=rule.id, severity=rule.severity, message_vi=rule.message_vi.format(**params),
                   message_en=rule.message_en.format(**params), sheet=sheet, cell=cell, indicator_code=check.code,
                   expected=f"{check.expected()} = {fmt(right)}" if check.right.codes else check.expected())


def _missing_finding(check: Check, row, sheet, cell) -> Finding:
    empty = [c for c in check.left.codes + check.right.codes if row.get(c) != row.get(c) or row.get(c) is None]
    rows = ", ".join(empty) or check.code
    return Finding(rule_id=check.rule.id, severity="warning",
                   message_vi=f"Không kiểm tra được quy tắc \"{check.rule.description_vi}\": dòng {rows} chưa có số liệu",
                   message_en=f"Rule \"{check.rule.description_en}\" cannot be checked: row {rows} has no value",
                   sheet=sheet, cell=cell, indicator_code=check.code, expected=f"dòng/row {rows}")


def _structure_finding(form: str, rule_id: str, code: str, value, sheet, cell) -> Finding:
    from schemas.forms import load_forms
    from validations.catalogue import finding

    return finding(rule_id, sheet=sheet, cell=cell, indicator_code=code, raw=fmt(value),
                   unit=load_forms()[form].rows_by_code[code].unit_vi)


if __name__ == "__main__":
    for p in write_suites():
        print(f"wrote {p}")
