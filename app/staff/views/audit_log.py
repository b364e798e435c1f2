"""The audit log: viewing and exporting it, filtered by action, record type and date."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import make_response, render_template, request
from flask_login import current_user

from ...extensions import db
from ...models import Account, AuditEntry, Campaign, Region, Site, Survey, SurveyVersion
from ...templating import LOCAL_TZ
from .. import bp, scope
from ..audit_format import ACTION_LABELS, OBJECT_LABELS, Names, ReadableEntry, readable, references
from .common import may_read_audit

#: Entries shown on the page (the export has them all).
AUDIT_PAGE = 500
#: Entries read (and names looked up) at a time for the export.
EXPORT_BATCH = 1000


class BadFilter(ValueError):
    """A filter the page cannot use; the message is for the staff member."""


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    object_type: str | None = None
    #: Dates in China time, both included.
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        """Read the page's GET parameters; an empty one means no filter. Raises BadFilter."""
        action = args.get("action", "") or None
        object_type = args.get("object", "") or None
        if action is not None and action not in ACTION_LABELS:
            raise BadFilter("没有这种操作，请从列表里选。")
        if object_type is not None and object_type not in OBJECT_LABELS:
            raise BadFilter("没有这种对象，请从列表里选。")
        since, until = _date(args.get("from", "")), _date(args.get("to", ""))
        if since and until and since > until:
            raise BadFilter("开始日期不能晚于结束日期。")
        return cls(action, object_type, since, until)

    def as_args(self) -> dict[str, str]:
        """The filters as GET parameters again (for the export link)."""
        args = {"action": self.action, "object": self.object_type,
                "from": self.since.isoformat() if self.since else None,
                "to": self.until.isoformat() if self.until else None}
        return {k: v for k, v in args.items() if v}

    def where(self) -> list:
        clauses = []
        if self.action:
            clauses.append(AuditEntry.action == self.action)
        if self.object_type:
            clauses.append(AuditEntry.object_type == self.object_type)
        if self.since:
            clauses.append(AuditEntry.at >= datetime.combine(self.since, time(), LOCAL_TZ))
        if self.until:
            clauses.append(AuditEntry.at < datetime.combine(self.until + timedelta(days=1), time(), LOCAL_TZ))
        return clauses


def _date(text: str) -> date | None:
    if not text:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise BadFilter("日期请按“2026-01-31”的样子填写。") from None
    if not 2000 <= day.year <= 2100:
        raise BadFilter("请填 2000 年到 2100 年之间的日期。")
    return day


def visible_to(account: Account):
    """Which entries an account reads: those about records in its region's subtree.

    An entry about a record of no region (a survey version) is shown when it was made by
    an account within the subtree, or on the command line: the command line is the
    server's operator, and what it changes there (the shared questionnaires) concerns
    every district alike, so every district's audit readers see it. The command line's
    entries about a record of a region (an account it made, say) are scoped by that region
    like any other.
    """
    subtree = scope.region_ids_under(account.region_id)
    accounts_within = sa.select(Account.id).where(Account.region_id.in_(subtree))
    return sa.or_(AuditEntry.region_id.in_(subtree),
                  sa.and_(AuditEntry.region_id.is_(None),
                          sa.or_(AuditEntry.account_id.is_(None), AuditEntry.account_id.in_(accounts_within))))


def _entries(filters: AuditFilters, limit: int, before_id: int | None = None) -> list[AuditEntry]:
    """The viewer's entries that pass the filters, newest first."""
    query = sa.select(AuditEntry).where(visible_to(current_user), *filters.where())
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


def _names(entries: list[AuditEntry]) -> Names:
    """The names the entries mention: one query per kind of record, not one per entry."""
    refs = references(entries)

    def pairs(query, keys) -> dict:
        """{first column: second column} of the query's rows, or {first: (the others)} when
        it has more; no query at all when there is nothing to look up."""
        if not keys:
            return {}
        return {row[0]: row[1] if len(row) == 2 else tuple(row[1:]) for row in db.session.execute(query)}

    versions = pairs(sa.select(SurveyVersion.id, Survey.title, SurveyVersion.number).join(SurveyVersion.survey)
                     .where(SurveyVersion.id.in_(refs.survey_versions)), refs.survey_versions)
    return Names(
        regions=pairs(sa.select(Region.id, Region.name).where(Region.id.in_(refs.regions)), refs.regions),
        region_codes=pairs(sa.select(Region.code, Region.name).where(Region.code.in_(refs.region_codes)),
                           refs.region_codes),
        campaigns=pairs(sa.select(Campaign.id, Campaign.name).where(Campaign.id.in_(refs.campaigns)), refs.campaigns),
        sites=pairs(sa.select(Site.id, Site.name).where(Site.id.in_(refs.sites)), refs.sites),
        accounts=pairs(sa.select(Account.id, Account.username, Account.display_name)
                       .where(Account.id.in_(refs.accounts)), refs.accounts),
        survey_versions={key: f"{title} 第 {number} 版" for key, (title, number) in versions.items()},
    )


def _filters_or_error() -> tuple[AuditFilters, str | None]:
    try:
        return AuditFilters.from_args(request.args), None
    except BadFilter as e:
        return AuditFilters(), str(e)


def _page(filters: AuditFilters, rows: list[ReadableEntry], error: str | None = None):
    return render_template("staff/audit.html", rows=rows, limit=AUDIT_PAGE, filters=filters, error=error,
                           actions=ACTION_LABELS, objects=OBJECT_LABELS)


@bp.get("/audit")
@may_read_audit
def audit_log():
    filters, error = _filters_or_error()
    if error:
        return _page(filters, [], error), 400
    entries = _entries(filters, AUDIT_PAGE)
    names = _names(entries)
    return _page(filters, [readable(e, names) for e in entries])


CSV_HEADER = ["时间（北京时间）", "账号", "姓名", "操作", "对象", "编号", "改动前", "改动后", "名称", "区域", "改动"]


def _csv_rows(filters: AuditFilters) -> Iterator[list[str]]:
    before_id = None
    while True:
        entries = _entries(filters, EXPORT_BATCH, before_id)
        if not entries:
            return
        names = _names(entries)
        for e in entries:
            r = readable(e, names)
            # The JSON columns are for machines; 改动 is the same in words.
            yield [_cell(text) for text in (
                r.at, r.actor_username, r.actor if e.account_id is not None else "", r.action, r.object_type,
                e.object_id, json.dumps(e.before, ensure_ascii=False) if e.before is not None else "",
                json.dumps(e.after, ensure_ascii=False) if e.after is not None else "",
                r.object_name, r.region, "\n".join(r.changes))]
        before_id = entries[-1].id


def _cell(text: str) -> str:
    """Text Excel and WPS would run as a formula (a name typed as "=…") is kept as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/audit.csv")
@may_read_audit
def audit_csv():
    filters, error = _filters_or_error()
    if error:
        return _page(filters, [], error), 400
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_rows(filters))
    # The byte-order mark makes Excel and WPS read the file as UTF-8.
    response = make_response("\ufeff" + out.getvalue())
    response.mimetype = "text/csv"
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
