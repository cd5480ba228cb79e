"""Asset checks carrying the validation results (wiring only).

One check per family of rules in ``validations/rules.toml`` (``file``, ``structure``, ``value``, ``identity``,
``timeliness`` …) on the ``warehouse`` asset: it passes when the run's submissions have no finding of that
family; otherwise it fails with ERROR severity when any of those findings is an error (the submission was
rejected) and WARN when all are warnings.  The metadata counts findings per rule and previews them with their
file, sheet and cell.  Checks never block the pipeline: a rejected report is a normal outcome for a steward.
"""


from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    multi_asset_check,
)

from assets.resources import CCNResource
from pipelines.report import observe
from validations.catalogue import rules


def rule_families() -> dict[str, list[str]]:
    families: dict[str, list[str]] = {}
    for rule_id in rules():
        families.setdefault(rule_id.split(".", 1)[0], []).append(rule_id)
    return families


FAMILIES = rule_families()


def _check_name(family: str) -> str:
    return f"rules_{family}".replace("-", "_")


@multi_asset_check(
    specs=[AssetCheckSpec(_check_name(f), asset="warehouse",
                          description=f"No finding of the '{f}' rules on this run's submissions "
                                      f"({', '.join(sorted(ids))}). Errors fail with ERROR severity, warnings "
                                      "with WARN.")
           for f, ids in sorted(FAMILIES.items())],
    can_subset=True,
)
def validation_checks(context: AssetCheckExecutionContext, ccn: CCNResource):
    ctx = ccn.context(context.run.run_id)
    findings = observe.run_findings(ctx.engine, ctx.run_id)
    selected = {key.name for key in context.selected_asset_check_keys}
    for family, ids in sorted(FAMILIES.items()):
        name = _check_name(family)
        if name not in selected:
            continue
        part = findings[findings["rule_id"].isin(ids)] if not findings.empty else findings
        errors = int((part["severity"] == "error").sum()) if not part.empty else 0
        yield AssetCheckResult(
            check_name=name, asset_key="warehouse", passed=part.empty,
            severity=AssetCheckSeverity.ERROR if errors else AssetCheckSeverity.WARN,
            metadata={"findings": len(part), "errors": errors, "warnings": len(part) - errors,
                      "by_rule": MetadataValue.json({k: int(v) for k, v in part["rule_id"].value_counts().items()}
                                                    if not part.empty else {}),
                      "preview": MetadataValue.md(observe.preview(part))})
