"""Jobs (wiring only).

``ingest`` (what ``ccn run`` and the inbox sensor start): inbox → submissions and values → findings →
warehouse → outliers, national summary and who should report, with the validation checks; not partitioned, because a
file's period is only known once it is read.  ``period_refresh`` (what the deadline schedules start, one
period partition at a time): completeness, province / region / cluster summaries and the national workbook.
Both run in one process: stages share the warehouse, not pickled outputs.  ``remind`` (what the reminder
schedules start, one op, no asset: it writes letters, not data): the deadline reminders of one period, kind and
forms (pipelines/report/reminders.py), by e-mail or as drafts.
"""

from dagster import (
    AssetSelection,
    Config,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    define_asset_job,
    in_process_executor,
    job,
    op,
)

from assets.resources import CCNResource
from pipelines.report import reminders
from schemas.periods import Period
from schemas.text import bilingual

INGEST_ASSETS = ["inbox_files", "submissions", "indicator_values", "findings", "warehouse", "outliers",
                 "national_summary", "expected_reports"]

ingest_job = define_asset_job(
    "ingest", selection=AssetSelection.assets(*INGEST_ASSETS), executor_def=in_process_executor,
    description="Archive new inbox files, read, validate, load and summarise them.")

period_refresh_job = define_asset_job(
    "period_refresh",
    selection=AssetSelection.groups("reporting", "exports") - AssetSelection.assets("province_reports"),
    executor_def=in_process_executor, partitions_def=None,
    description="For one period: who should report and who did, the province, region and cluster summaries and "
                "the national report workbook.")


class RemindConfig(Config):
    """Which reminders: a period code, ``before`` or ``after`` the deadline, and the forms that share it."""

    period: str
    kind: str
    forms: list[str]


@op(description="Remind the expected senders of the period that have not reported (Biểu of the forms given, "
                "before or after their deadline): e-mail through CCN_SMTP_URL, or .eml drafts in $CCN_HOME/drafts; "
                "none twice (table reminder).")
def send_reminders(context: OpExecutionContext, config: RemindConfig, ccn: CCNResource):
    ctx = ccn.context(context.run_id)
    try:
        outbox = reminders.outbox_for(ctx.settings)
        contacts = reminders.read_contacts(ctx.settings.contacts, required=ctx.settings.contacts_required)
        result = reminders.remind(ctx.engine, Period.parse(config.period), contacts=contacts, outbox=outbox,
                                  kind=config.kind, forms=config.forms)
    except reminders.ReminderError as exc:
        raise Failure(str(exc)) from exc
    for note in result.notes:
        context.log.info(note)
    counts = {k: result.count(k) for k in reminders.OUTCOME_WORDS if result.count(k)}
    rows = [f"| {o.province_code} | {o.form} | {o.unit} | {o.kind} | {', '.join(o.recipients)} | {o.words} |"
            for o in result.outcomes]
    table = "\n".join(["| province | form | unit | kind | to | outcome |", "|---|---|---|---|---|---|", *rows])
    if result.error:
        raise Failure(result.error, metadata={"outcomes": MetadataValue.json(counts)})
    if result.needs_attention:
        context.log.warning(bilingual(
            f"còn việc cho cán bộ: {counts} (ccn remind --period {config.period} --dry-run cho biết chi tiết)",
            f"left for a steward: {counts} (ccn remind --period {config.period} --dry-run tells the details)"))
    yield Output(None, metadata={"letters": result.letters, "outcomes": MetadataValue.json(counts),
                                 "outbox": " / ".join(result.where), "reminders": MetadataValue.md(table)})


@job(name="remind", executor_def=in_process_executor,
     description="The deadline reminders of one period, kind (before or after the deadline) and set of forms: who "
                 "has not reported gets a letter (e-mail, or a draft when no mail server is set), never twice.")
def remind_job():
    send_reminders()
