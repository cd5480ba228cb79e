"""Asset checks carrying the validation results (wiring only).

One check per family of rules in ``validations/rules.toml`` (``file``, ``structure``, ``value``, ``identity``,
``timeliness`` …) on the ``warehouse`` asset; the outlier rules, which run after loading, are checked on the
``outliers`` asset instead (assets.py).  A check describes the warehouse as it is after the run, not what
the run did: it passes when no finding of its family stands (on a report pending, rejected, accepted with
warnings or held for a locked period, and not waived), whichever run wrote it; otherwise it fails with ERROR
severity when any standing finding is an error (a report kept out) and WARN when all are warnings.  So a run that
loads nothing new leaves the checks as they were, and a check turns green only when a steward has corrected or
waived what failed.  The metadata counts the standing findings per rule and per period, with the run's own count
beside them, and previews them with their province, unit, file, sheet and cell.  Checks never block the
pipeline: a rejected report is a normal outcome for a steward.
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
from validations.catalogue import OutlierRule, rules


def rule_families() -> dict[str, list[str]]:
    families: dict[str, list[str]] = {}
    for rule_id, rule in rules().items():
        if not isinstance(rule, OutlierRule):
            families.setdefault(rule_id.split(".", 1)[0], []).append(rule_id)
    return families


FAMILIES = rule_families()


def _check_name(family: str) -> str:
    return f"rules_{family}".replace("-", "_")


@multi_asset_check(
    specs=[AssetCheckSpec(_check_name(f), asset="warehouse",
                          description=f"No finding of the '{f}' rules stands in the warehouse "
                                      f"({', '.join(sorted(ids))}). Errors fail with ERROR severity, warnings "
                                      "with WARN.")
           for f, ids in sorted(FAMILIES.items())],
    can_subset=True,
)
def validation_checks(context: AssetCheckExecutionContext, ccn: CCNResource):
    ctx = ccn.context(context.run.run_id)
    standing = observe.open_findings(ctx.engine)
    this_run = observe.run_findings(ctx.engine, ctx.run_id)
    selected = {key.name for key in context.selected_asset_check_keys}
    for family, ids in sorted(FAMILIES.items()):
        name = _check_name(family)
        if name not in selected:
            continue
        part = standing[standing["rule_id"].isin(ids)]
        errors = int((part["severity"] == "error").sum())
        by_rule = {str(rule): int(n) for rule, n in part["rule_id"].value_counts().items()}
        yield AssetCheckResult(
            check_name=name, asset_key="warehouse", passed=part.empty,
            severity=AssetCheckSeverity.ERROR if errors else AssetCheckSeverity.WARN,
            metadata={"findings": len(part), "errors": errors, "warnings": len(part) - errors,
                      "by_period": MetadataValue.json(observe.by_period(part)),
                      "by_rule": MetadataValue.json(by_rule),
                      "written_by_this_run": int(this_run["rule_id"].isin(ids).sum()),
                      "preview": MetadataValue.md(observe.preview(part.drop(columns=["message"])))})
