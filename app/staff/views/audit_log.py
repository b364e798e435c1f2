"""The audit log: viewing and exporting it."""

from __future__ import annotations

import sqlalchemy as sa
from flask import make_response, render_template
from flask_login import current_user
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...models import Account, AuditEntry
from ...templating import local_time
from .. import bp, scope
from .common import may_read_audit

ACTION_LABELS = {"check": "检查可疑回答", "create": "新建", "edit": "修改", "open": "开始", "close": "结束", "import": "导入",
                 "exclude": "不计入统计", "include": "重新计入", "login": "登录", "account": "账号变更"}
OBJECT_LABELS = {"campaign": "调查", "site": "考评点", "region": "区域", "account": "账号", "response": "回答",
                 "ticket_batch": "问卷票", "survey_version": "问卷版本"}
AUDIT_PAGE = 500


def _audit_entries(limit: int | None):
    """Entries made by accounts within the viewer's region, newest first."""
    accounts = sa.select(Account.id).where(Account.region_id.in_(scope.region_ids_under(current_user.region_id)))
    query = (sa.select(AuditEntry).where(AuditEntry.account_id.in_(accounts))
             .options(joinedload(AuditEntry.account)).order_by(AuditEntry.id.desc()))
    return db.session.scalars(query.limit(limit) if limit else query)


@bp.get("/audit")
@may_read_audit
def audit_log():
    return render_template("staff/audit.html", entries=_audit_entries(AUDIT_PAGE), limit=AUDIT_PAGE,
                           actions=ACTION_LABELS, objects=OBJECT_LABELS)


@bp.get("/audit.csv")
@may_read_audit
def audit_csv():
    import csv
    import io
    import json
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["时间（北京时间）", "账号", "姓名", "操作", "对象", "编号", "改动前", "改动后"])
    for e in _audit_entries(None):
        writer.writerow([local_time(e.at), e.account.username if e.account else "", e.account.display_name if e.account else "",
                         ACTION_LABELS.get(e.action, e.action), OBJECT_LABELS.get(e.object_type, e.object_type),
                         e.object_id, json.dumps(e.before, ensure_ascii=False) if e.before is not None else "",
                         json.dumps(e.after, ensure_ascii=False) if e.after is not None else ""])
    # The byte-order mark makes Excel and WPS read the file as UTF-8.
    response = make_response("\ufeff" + out.getvalue())
    response.mimetype = "text/csv"
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response


