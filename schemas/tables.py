"""The warehouse: tables (SQLAlchemy Core), the BI views, and how to open and migrate it.

The same definitions serve SQLite (embedded default) and PostgreSQL.  Tables are created and changed only by
the Alembic migrations in ``schemas/migrations``; the views are derived objects, dropped and re-created from
``VIEWS`` after every upgrade so that both backends always carry the current definitions.  The BI contract
(view names and columns) is documented in docs/warehouse.md.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from schemas.periods import VN_TZ

metadata = MetaData()


class AwareDateTime(TypeDecorator):
    """A timestamp with its time zone on both backends (SQLite keeps ISO 8601 text with the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to an AwareDateTime column")
        if dialect.name == "sqlite":
            return value.astimezone(VN_TZ).isoformat(sep=" ")
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(VN_TZ)


province = Table(
    "province", metadata,
    Column("code", String(2), primary_key=True),
    Column("generation", String(8), primary_key=True),  # "2025" | "pre2025"
    Column("name", Text, nullable=False),
    Column("valid_from", String(10)),
    Column("valid_to", String(10)),
    Column("successor_code", String(2)),  # the 2025 province a pre-2025 province merged into
    Column("region", Text),
)

commune = Table(
    "commune", metadata,
    Column("code", String(5), primary_key=True),
    Column("generation", String(8), primary_key=True),
    Column("name", Text, nullable=False),
    Column("province_code", String(2), nullable=False),
    Column("district_code", String(3)),
    Column("district_name", Text),
    Column("valid_from", String(10)),
    Column("valid_to", String(10)),
)

indicator = Table(
    "indicator", metadata,
    Column("form", String(2), primary_key=True),
    Column("code", String(8), primary_key=True),
    Column("section", Text),
    Column("label_vi", Text, nullable=False),
    Column("label_en", Text, nullable=False),
    Column("unit_vi", Text, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("period_kind", String(12), nullable=False),
    Column("aggregation", String(12), nullable=False),
    Column("numerator", String(8)),
    Column("denominator", String(8)),
    Column("scale", Float),
    Column("sort_order", Integer, nullable=False),
)

cluster = Table(
    "cluster", metadata,
    Column("cluster_id", String(80), primary_key=True),
    Column("name", Text, nullable=False),
    Column("province_code", String(2), nullable=False),
    Column("commune_code", String(5)),
    Column("kind", String(20)),
    Column("status", String(30)),
    Column("verified", Boolean, nullable=False, default=False),
    Column("source", String(20), nullable=False),  # register | report
    Column("created_at", AwareDateTime, nullable=False),
)

cluster_alias = Table(
    "cluster_alias", metadata,
    Column("province_code", String(2), primary_key=True),
    Column("alias_key", String(200), primary_key=True),
    Column("cluster_id", String(80), ForeignKey("cluster.cluster_id"), nullable=False),
    Column("alias", Text, nullable=False),
)

project = Table(
    "project", metadata,
    Column("project_key", String(160), primary_key=True),
    Column("cluster_id", String(80), ForeignKey("cluster.cluster_id"), nullable=False),
    Column("name", Text),
    Column("tax_code", String(20)),
    Column("sector", Text),
)

received_file = Table(
    "received_file", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("source_path", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("received_at", AwareDateTime, nullable=False),
    Column("archived_at", AwareDateTime, nullable=False),
    Column("archive_path", Text, nullable=False),
    Column("state", String(12), nullable=False),  # archived | read
)

file_arrival = Table(
    "file_arrival", metadata,
    Column("arrival_id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), ForeignKey("received_file.sha256"), nullable=False),
    Column("source_path", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("mtime_ns", String(24), nullable=False),
    Column("seen_at", AwareDateTime, nullable=False),
    UniqueConstraint("source_path", "size", "mtime_ns", name="uq_file_arrival_source"),
)

submission = Table(
    "submission", metadata,
    Column("submission_id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), ForeignKey("received_file.sha256"), nullable=False),
    Column("sheet", Text),
    Column("form", String(2)),
    Column("wording", String(10)),
    Column("period", String(7)),
    Column("province_code", String(2)),
    Column("commune_code", String(5)),
    Column("cluster_id", String(80)),
    Column("project_key", String(160)),
    Column("unit_key", String(160)),
    Column("unit_name", Text),
    Column("sender", Text),
    Column("received_at", AwareDateTime, nullable=False),
    Column("deadline", AwareDateTime),
    Column("is_late", Boolean, nullable=False, default=False),
    Column("status", String(24), nullable=False),  # one of schemas.status.Status
    Column("errors", Integer, nullable=False, default=0),
    Column("warnings", Integer, nullable=False, default=0),
    Column("superseded_by", Integer),
    Column("run_id", String(64)),
    Column("validated_at", AwareDateTime),  # rule findings committed (validate stage); publishing needs it
    Column("loaded_at", AwareDateTime),
    UniqueConstraint("sha256", "sheet", name="uq_submission_file_sheet"),
)
Index("ix_submission_key", submission.c.form, submission.c.period, submission.c.unit_key)
Index("ix_submission_status", submission.c.status)

indicator_value = Table(
    "indicator_value", metadata,
    Column("submission_id", Integer, ForeignKey("submission.submission_id"), primary_key=True),
    Column("indicator_code", String(8), primary_key=True),
    Column("value", Float),
    Column("raw", Text),
    Column("sheet", Text),
    Column("cell", String(12)),
    Column("unit", String(40)),
    Column("note", Text),  # the remark typed in column (5) Ghi chú beside the value (SPEC §6); NULL when none
)

validation_finding = Table(
    "validation_finding", metadata,
    Column("finding_id", Integer, primary_key=True, autoincrement=True),
    Column("submission_id", Integer, ForeignKey("submission.submission_id"), nullable=False),
    Column("rule_id", String(60), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("sheet", Text),
    Column("cell", String(12)),
    Column("indicator_code", String(8)),
    Column("message", Text, nullable=False),
    Column("expected", Text),
    Column("created_at", AwareDateTime),
    Column("stage", String(12)),  # read | validate (migration 0002); NULL = read
)
Index("ix_finding_submission", validation_finding.c.submission_id)

# --- validation (migration 0002): waivers and validation runs ------------------------------------------------
finding_waiver = Table(
    "finding_waiver", metadata,
    Column("finding_id", Integer, ForeignKey("validation_finding.finding_id"), primary_key=True),
    Column("waived_by", Text, nullable=False),
    Column("waived_at", AwareDateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

validation_run = Table(
    "validation_run", metadata,
    Column("validation_run_id", String(64), primary_key=True),
    Column("run_id", String(64)),  # the pipeline run whose submissions were validated
    Column("started_at", AwareDateTime, nullable=False),
    Column("finished_at", AwareDateTime),
    Column("submissions", Integer),
    Column("findings", Integer),
    Column("seconds", Float),
    Column("data_docs", Text),  # index.html of the run's Great Expectations Data Docs
)

pipeline_run = Table(
    "pipeline_run", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("dagster_run_id", String(64)),
    Column("started_at", AwareDateTime, nullable=False),
    Column("finished_at", AwareDateTime),
    Column("files_new", Integer),
    Column("accepted", Integer),
    Column("rejected", Integer),
    Column("late", Integer),
)

# --- orchestration (migration 0003): pre-2025 geography, who should report, BI roles --------------------------
district = Table(
    "district", metadata,
    Column("code", String(3), primary_key=True),  # GSO district code, valid until 2025-06-30
    Column("name", Text, nullable=False),
    Column("old_province_code", String(2), nullable=False),
    Column("province_code", String(2), nullable=False),  # the 2025 province it lies in
    Column("valid_to", String(10)),
)

commune_successor = Table(
    "commune_successor", metadata,
    Column("old_code", String(5), primary_key=True),
    Column("new_code", String(5), primary_key=True),
    Column("old_province_code", String(2), nullable=False),
    Column("old_district_code", String(3)),
    Column("new_province_code", String(2), nullable=False),
    Column("merge_type", String(8), nullable=False),  # full | partial (the old commune was split)
    Column("targets", Integer, nullable=False),
)

expected_report = Table(
    "expected_report", metadata,
    Column("period", String(7), primary_key=True),
    Column("form", String(2), primary_key=True),
    Column("unit_key", String(160), primary_key=True),
    Column("province_code", String(2), nullable=False),  # 2025 province
    Column("unit_name", Text),
    Column("basis", String(20), nullable=False),  # province_list | register | reported
    Column("refreshed_at", AwareDateTime, nullable=False),
)
Index("ix_expected_report_province", expected_report.c.period, expected_report.c.province_code)

bi_role = Table(
    "bi_role", metadata,
    Column("name", String(63), primary_key=True),
    Column("created_at", AwareDateTime, nullable=False),
)

# accounts of the stewards' portal (``ccn user add``): a password is kept only as its argon2 hash
portal_user = Table(
    "portal_user", metadata,
    Column("name", String(64), primary_key=True),  # the login
    Column("role", String(16), nullable=False),  # province | ministry | viewer (pipelines/steward/accounts.py)
    Column("province_code", String(2)),  # the 2025 province of a province steward; NULL for the others
    Column("password_hash", Text, nullable=False),
    Column("created_at", AwareDateTime, nullable=False),
    Column("disabled_at", AwareDateTime),
)

# who did what, when and from where: accounts, uploads, sending, waivers, approvals, unlocks, failed logins
audit_event = Table(
    "audit_event", metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("at", AwareDateTime, nullable=False),
    Column("actor", Text, nullable=False),  # a portal login, or "cli:<system user>"
    Column("action", String(32), nullable=False),  # user.add, login.failed, …
    Column("address", Text),  # the client's address (NULL on the command line)
    Column("target", Text),  # what was acted on: a login, a submission, a finding, a period
    Column("detail", Text),
)
Index("ix_audit_event_at", audit_event.c.at)

# a province's period on its way to the Ministry (pipelines/steward/approval.py); no row: open.  While the state is
# accepted the period is locked: a new report for it is held (schemas.status.Status.HELD) until it is unlocked
period_approval = Table(
    "period_approval", metadata,
    Column("province_code", String(2), primary_key=True),  # 2025 province
    Column("period", String(7), primary_key=True),
    Column("state", String(16), nullable=False),  # one of schemas.status.Approval.STATES
    Column("changed_at", AwareDateTime, nullable=False),
    Column("changed_by", Text, nullable=False),  # a portal login, or "cli:<name given by --by>"
    Column("comment", Text),  # the Ministry's comment (accept, return) or reason (unlock)
)

# the deadline reminders sent or drafted (pipelines/report/reminders.py), one row per expected report reminded of:
# the key is the sender (form, unit_key) of a period and the kind of reminder, so none is sent twice.  A row is
# written ``sending`` before the mail server is asked and ``sent`` once it accepted; a row left ``sending`` (the
# run stopped in between) is shown as unconfirmed and never re-sent by itself (at most once, docs/reminders.md)
reminder = Table(
    "reminder", metadata,
    Column("period", String(7), primary_key=True),
    Column("form", String(2), primary_key=True),
    Column("unit_key", String(160), primary_key=True),
    Column("kind", String(8), primary_key=True),  # before | after (the deadline)
    Column("province_code", String(2), nullable=False),  # 2025 province
    Column("deadline", AwareDateTime, nullable=False),  # the first late instant (schemas.periods.Period.deadline)
    Column("state", String(12), nullable=False),  # sending | sent | drafted
    Column("channel", String(8), nullable=False),  # smtp | draft
    Column("recipients", Text, nullable=False),  # the addresses it went to (To, then Cc), comma-separated
    Column("to_department", Boolean, nullable=False),  # listed in a letter to the province's Department
    Column("message_id", Text, nullable=False),  # the letter's Message-ID (several units may share one letter)
    Column("draft_path", Text),  # the .eml written (channel draft)
    Column("claimed_at", AwareDateTime, nullable=False),
    Column("sent_at", AwareDateTime),  # the server accepted it (smtp) or the draft was written
    Column("detail", Text),  # addresses the server refused while accepting the others
)

# --- outliers and follow-up (migration 0010) -------------------------------------------------------------------
# a steward's decision on a warning (an outlier or another): confirmed (the value is right), corrected (the office
# sends it again corrected) or follow-up (to be followed up); every mark is a row, the latest one counts, none is
# ever deleted (pipelines/steward/follow_up.py; each mark is also an audit event)
finding_follow_up = Table(
    "finding_follow_up", metadata,
    Column("follow_up_id", Integer, primary_key=True, autoincrement=True),
    Column("finding_id", Integer, ForeignKey("validation_finding.finding_id"), nullable=False),
    Column("status", String(16), nullable=False),  # one of schemas.status.FollowUp.STATUSES
    Column("comment", Text, nullable=False),
    Column("marked_by", Text, nullable=False),  # a portal login, or "cli:<name given by --by>"
    Column("marked_at", AwareDateTime, nullable=False),
)
Index("ix_follow_up_finding", finding_follow_up.c.finding_id)

# the outlier analysis of each period (validations/outliers.py): when it last ran, over how much, and what it found;
# a period whose accepted reports changed since (submission.loaded_at) is analysed again by the next run
outlier_analysis = Table(
    "outlier_analysis", metadata,
    Column("period", String(7), primary_key=True),
    Column("analysed_at", AwareDateTime, nullable=False),
    Column("submissions", Integer, nullable=False),
    Column("value_count", Integer, nullable=False),  # values of those reports analysed
    Column("findings", Integer, nullable=False),  # outlier findings standing on the period's current reports
    Column("seconds", Float, nullable=False),
)
