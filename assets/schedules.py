"""Schedules at the legal deadlines (wiring only), Asia/Ho_Chi_Minh.

A report due "before 20 Jun" is late from 20 Jun 00:00, so just after each deadline the period's completeness and
summaries are refreshed.  The deadlines are those of ``schemas/forms.toml``: one schedule per distinct deadline,
named after the senders of the forms that share it (``after_deadline_projects_clusters`` for Biểu 01 and 02).
June refreshes the 6-month period of that year, December the annual one (:func:`period_due`).

Reminders (``remind_before_deadline_…``, ``remind_after_deadline_…``): per deadline, the ``remind`` job for the
forms that share it, ``days_before`` days ahead and on the first late day, at the hour of ``schemas/reminders.toml``
(08:00, after the 00:15 refresh).  The run key names the schedule and the period, so a tick evaluated twice starts
one run, and the table ``reminder`` keeps a re-run from writing to anyone twice.
"""

import calendar

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from assets.jobs import period_refresh_job, remind_job
from assets.partitions import PERIODS
from pipelines.report.completeness import period_due
from pipelines.report.reminders import AFTER, BEFORE, policy, reminder_day
from schemas.forms import FormSpec, forms_by_deadline
from schemas.periods import VN_TZ
from schemas.text import bilingual

TZ = VN_TZ.key
MINUTE_AFTER = 15  # the refresh runs at 00:15 of the first late day


def _cron(month_day: str) -> str:
    month, day = (int(x) for x in month_day.split("-"))
    return f"{MINUTE_AFTER} 0 {day} {month} *"


def _what(specs: tuple[FormSpec, ...], deadline: dict[str, str]) -> str:
    """``Biểu 01 and 02 (before 20 Jun / 20 Dec)``."""
    codes = [s.form for s in specs]
    forms = " and ".join(filter(None, (", ".join(codes[:-1]), codes[-1])))
    days = " / ".join(f"{int(md[3:])} {calendar.month_abbr[int(md[:2])]}" for md in deadline.values())
    return f"Biểu {forms} (before {days})"


def _deadline_schedule(specs: tuple[FormSpec, ...], deadline: dict[str, str]):
    name = "after_deadline_" + "_".join(f"{s.sender_level}s" for s in specs)
    what = _what(specs, deadline)

    @schedule(name=name, job=period_refresh_job, cron_schedule=[_cron(md) for md in deadline.values()],
              execution_timezone=TZ, default_status=DefaultScheduleStatus.RUNNING,
              description=f"Just after the deadline of {what}: refresh who has reported and the summaries of the "
                          "period due (June: the 6-month report, December: the annual report).")
    def _schedule(context: ScheduleEvaluationContext):
        period = period_due(context.scheduled_execution_time)
        if not PERIODS.has_partition_key(period.code):
            return SkipReason(bilingual(
                f"kỳ {period.code} chưa có trong định nghĩa đã nạp: hãy nạp lại code location rồi chạy `ccn refresh "
                f"--period {period.code}`",
                f"period {period.code} is not in the loaded definitions: reload the code location, then run "
                f"`ccn refresh --period {period.code}`"))
        return RunRequest(run_key=f"{name}:{period.code}", partition_key=period.code,
                          tags={"ccn/period": period.code, "ccn/deadline": what})

    return _schedule


deadline_schedules = [_deadline_schedule(specs, deadline) for specs, deadline in forms_by_deadline()]


def _reminder_schedule(specs: tuple[FormSpec, ...], deadline: dict[str, str], kind: str):
    name = f"remind_{kind}_deadline_" + "_".join(f"{s.sender_level}s" for s in specs)
    what = _what(specs, deadline)
    days = [reminder_day(md, kind) for md in deadline.values()]
    crons = [f"0 {policy().hour} {day} {month} *" for month, day in days]
    when = (f"{policy().days_before} days before the deadline of {what}" if kind == BEFORE
            else f"On the first late day of {what}")

    @schedule(name=name, job=remind_job, cron_schedule=crons, execution_timezone=TZ,
              default_status=DefaultScheduleStatus.RUNNING,
              description=f"{when}: remind the senders that have not reported for the period due (e-mail through "
                          "CCN_SMTP_URL, or .eml drafts in $CCN_HOME/drafts), none twice.")
    def _schedule(context: ScheduleEvaluationContext):
        period = period_due(context.scheduled_execution_time)
        return RunRequest(run_key=f"{name}:{period.code}",
                          run_config={"ops": {"send_reminders": {"config": {
                              "period": period.code, "kind": kind, "forms": [s.form for s in specs]}}}},
                          tags={"ccn/period": period.code, "ccn/deadline": what, "ccn/reminder": kind})

    return _schedule


reminder_schedules = [_reminder_schedule(specs, deadline, kind) for specs, deadline in forms_by_deadline()
                      for kind in (BEFORE, AFTER)]
