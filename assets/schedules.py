"""Schedules at the legal deadlines (wiring only), Asia/Ho_Chi_Minh.

A report due "before 20 Jun" is late from 20 Jun 00:00, so just after each deadline the period's
completeness and summaries are refreshed: after the 20th (Biểu 01 and 02), the 25th (Biểu 03) and the 30th of
June / 31st of December (Biểu 04).  June refreshes the 6-month period of that year, December the annual one.
"""


from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from assets.jobs import period_refresh_job
from pipelines.report.completeness import period_due

TZ = "Asia/Ho_Chi_Minh"
DEADLINES = {
    "after_deadline_projects_clusters": (["15 0 20 6 *", "15 0 20 12 *"], "Biểu 01 and 02 (before 20 Jun / 20 Dec)"),
    "after_deadline_communes": (["15 0 25 6 *", "15 0 25 12 *"], "Biểu 03 (before 25 Jun / 25 Dec)"),
    "after_deadline_provinces": (["15 0 30 6 *", "15 0 31 12 *"], "Biểu 04 (before 30 Jun / 31 Dec)"),
}


def _deadline_schedule(name: str, crons: list[str], what: str):
    @schedule(name=name, job=period_refresh_job, cron_schedule=crons, execution_timezone=TZ,
              default_status=DefaultScheduleStatus.RUNNING,
              description=f"Just after the deadline of {what}: refresh who has reported and the summaries of the "
                          "period due (June: the 6-month report, December: the annual report).")
    def _schedule(context: ScheduleEvaluationContext):
        period = period_due(context.scheduled_execution_time)
        return RunRequest(run_key=f"{name}:{period.code}", partition_key=period.code,
                          tags={"ccn/period": period.code, "ccn/deadline": what})

    return _schedule


deadline_schedules = [_deadline_schedule(n, crons, what) for n, (crons, what) in DEADLINES.items()]
