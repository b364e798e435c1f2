"""The audit log in words staff read: Chinese names for actions, records and fields, each
change as a "字段：前 → 后" line, times in China time.

Pure functions, no database: the names of the records entries mention (campaigns, regions,
accounts …) come in a Names the caller loads in bulk, for the ids references() lists.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..models import Channel, CommunityKind, RegionLevel, Role
from ..templating import local_time

ACTION_LABELS = {
    "create": "新建", "edit": "修改", "open": "开始", "close": "结束", "import": "导入",
    "check": "检查可疑回答", "exclude": "不计入统计", "include": "重新计入", "login": "登录",
    "account": "账号变更", "enter": "录入", "resolve": "核对后保存", "correct": "按纸质问卷更正",
    "retire": "停用", "restore": "恢复使用", "clear": "清除", "lock": "定稿", "unlock": "解除定稿",
    "publish": "公布结果", "withdraw": "撤回公布结果",
}

OBJECT_LABELS = {
    "campaign": "调查", "site": "考评点", "region": "区域", "account": "账号", "response": "回答",
    "ticket_batch": "问卷票", "survey_version": "问卷版本", "paper_keying": "纸质问卷录入",
    "scheme_setting": "评分方案的分值和权重", "indicator_entry": "指标评分",
    "population_margins": "加权用的人口结构",
}

FIELD_LABELS = {
    # campaigns
    "name": "名称", "survey_version_id": "问卷版本", "opens_at": "开始时间", "closes_at": "结束时间",
    "one_response_per_device": "每部手机只能填一次", "confidence": "置信水平", "margin": "允许误差",
    "targets": "目标样本量", "double_entry": "纸质问卷双人录入", "results_published_at": "结果公布时间",
    # responses and paper entry
    "exclusion_reason": "不计入原因", "reason": "原因", "channel": "渠道", "community_id": "社区", "campaign_id": "调查",
    "site_id": "考评点", "paper_serial": "问卷编号", "pass": "第几遍录入", "pass_number": "第几遍录入",
    "entered_by_id": "录入人", "response_id": "回答", "locked_at": "定稿时间", "locked_by_id": "定稿人",
    # accounts
    "username": "用户名", "display_name": "姓名", "role": "角色", "region_id": "负责的区域", "active": "可以登录",
    "password": "密码",
    # regions
    "code": "代码", "level": "级别", "parent_id": "上级区域", "households": "户数", "kind": "社区类型",
    # sites
    "retired_at": "停用时间",
    # imports, checks, tickets, survey versions
    "file": "文件", "sha256": "文件校验码（SHA-256）", "responses": "回答数", "created": "新建", "updated": "更新",
    "tickets": "张数", "too_fast": "填得特别快", "bursts": "同一网络短时间大量提交", "survey": "问卷",
    "number": "版本号", "content_hash": "内容校验码",
    # scoring schemes
    "scheme_id": "评分方案", "fill_ins": "填入的分值、权重和标准", "indicator": "指标", "value": "录入值", "note": "依据",
    # population margins (weighting)
    "margins": "各类人口数",
}

#: Fields that are never shown, whatever they hold: the line only says that they changed.
SECRET_FIELDS = {"password": "已重设", "password_hash": "已重设"}

#: Fields holding an ISO time (audit.snapshot writes times so), shown in China time.
TIME_FIELDS = {"opens_at", "closes_at", "created_at", "entered_at", "submitted_at", "used_at", "retired_at",
               "locked_at", "results_published_at"}

#: Fields holding an enum's value, shown as its label.
ENUM_FIELDS: dict[str, type[enum.Enum]] = {"role": Role, "kind": CommunityKind, "level": RegionLevel,
                                          "channel": Channel}

#: Words for the values of particular fields.
VALUE_WORDS = {"double_entry": {"agreed": "两遍录入一致", "settled": "两遍不一致，核对后保存"}}

#: Keys inside a value that is itself a mapping (a resolved paper's two keyings).
INNER_LABELS = {"first": "第一遍", "second": "第二遍", "age_band": "年龄段", "sex": "性别"}

#: Fields holding the id of another record, and which kind of name it is.
REFERENCE_FIELDS = {"region_id": "regions", "community_id": "regions", "parent_id": "regions",
                    "campaign_id": "campaigns", "site_id": "sites", "survey_version_id": "survey_versions",
                    "entered_by_id": "accounts", "locked_by_id": "accounts"}

#: Audited object types that have a name, and which kind of name it is.
OBJECT_NAMES = {"campaign": "campaigns", "site": "sites", "region": "regions", "account": "accounts",
                "survey_version": "survey_versions"}

NOTHING = "（空）"
ARROW = " → "


@dataclass
class Names:
    """The names of the records a set of entries mention, by id."""
    regions: Mapping[int, str] = field(default_factory=dict)
    #: Region names by code (a campaign's targets are keyed by community code).
    region_codes: Mapping[str, str] = field(default_factory=dict)
    campaigns: Mapping[int, str] = field(default_factory=dict)
    sites: Mapping[int, str] = field(default_factory=dict)
    #: An account's (username, display name).
    accounts: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    #: A survey version as "title 第 n 版".
    survey_versions: Mapping[int, str] = field(default_factory=dict)


@dataclass
class References:
    """The ids (and community codes) whose names a set of entries needs."""
    regions: set[int] = field(default_factory=set)
    region_codes: set[str] = field(default_factory=set)
    campaigns: set[int] = field(default_factory=set)
    sites: set[int] = field(default_factory=set)
    accounts: set[int] = field(default_factory=set)
    survey_versions: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class ReadableEntry:
    """One audit entry as staff read it."""
    at: str
    #: Who acted: their display name (and username apart), or 命令行 for the server's operator.
    actor: str
    actor_username: str
    action: str
    object_type: str
    #: The record's name ("甲调查", "admin（区管理员）"), or "#id" when it has none or is gone.
    object_name: str
    #: The region the record belongs to, or "—" for records of no region (survey versions).
    region: str
    #: "字段：前 → 后" lines.
    changes: list[str]


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def object_label(object_type: str) -> str:
    return OBJECT_LABELS.get(object_type, object_type)


def field_label(name: str) -> str:
    """A field's Chinese name; a field we have no name for is shown as it is."""
    return FIELD_LABELS.get(name, name)


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def references(entries: Iterable) -> References:
    """The ids whose names readable() needs for these entries (objects with the columns of an AuditEntry)."""
    refs = References()
    for e in entries:
        kind = OBJECT_NAMES.get(e.object_type)
        key = _int(e.object_id)
        if kind and key is not None:
            getattr(refs, kind).add(key)
        if e.region_id is not None:
            refs.regions.add(e.region_id)
        if e.account_id is not None:
            refs.accounts.add(e.account_id)
        for values in (e.before, e.after):
            if not isinstance(values, dict):
                continue
            for name, value in values.items():
                if name in REFERENCE_FIELDS and _int(value) is not None:
                    getattr(refs, REFERENCE_FIELDS[name]).add(_int(value))
                elif name == "targets" and isinstance(value, dict):
                    refs.region_codes.update(str(code) for code in value)
    return refs


def _name(kind: str, key: int, names: Names) -> str | None:
    known = getattr(names, kind).get(key)
    if known is None or kind != "accounts":
        return known
    username, display_name = known
    return f"{username}（{display_name}）"


def object_name(object_type: str, object_id, names: Names) -> str:
    kind = OBJECT_NAMES.get(object_type)
    key = _int(object_id)
    known = _name(kind, key, names) if kind and key is not None else None
    return known if known is not None else f"#{object_id}"


def _percent(value: float) -> str:
    return f"{value * 100:.4g}%"


def _spaced_hex(value: str) -> str:
    """A long hash in groups of eight, so it wraps on a narrow screen and is easier to compare."""
    return " ".join(value[i:i + 8] for i in range(0, len(value), 8))


def format_value(name: str, value, names: Names | None = None) -> str:
    """One field's value as staff read it."""
    names = names or Names()
    if name in SECRET_FIELDS:
        return SECRET_FIELDS[name]
    if value is None:
        return NOTHING
    if isinstance(value, bool):
        return "是" if value else "否"
    if name in VALUE_WORDS and isinstance(value, str) and value in VALUE_WORDS[name]:
        return VALUE_WORDS[name][value]
    if name in TIME_FIELDS and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return local_time(moment) if moment.tzinfo is not None else value
    if name in ENUM_FIELDS and isinstance(value, str):
        try:
            return ENUM_FIELDS[name](value).label
        except ValueError:
            return value
    if name in REFERENCE_FIELDS and _int(value) is not None:
        known = _name(REFERENCE_FIELDS[name], _int(value), names)
        return known if known is not None else f"#{value}"
    if name == "confidence" and isinstance(value, (int, float)):
        return _percent(value)
    if name == "margin" and isinstance(value, (int, float)):
        return f"±{value * 100:.4g} 个百分点"
    if name in ("sha256", "content_hash") and isinstance(value, str) and re.fullmatch(r"[0-9a-f]{32,}", value):
        return _spaced_hex(value)
    if name == "targets" and isinstance(value, dict):
        return "，".join(f"{names.region_codes.get(str(code), code)} {_target(target)}"
                        for code, target in value.items()) or NOTHING
    if isinstance(value, dict):
        return "；".join(f"{INNER_LABELS.get(k, k)}：{format_value(k, v, names)}" for k, v in value.items()) or NOTHING
    if isinstance(value, list):
        return "、".join(format_value(name, v, names) for v in value) or NOTHING
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _target(target) -> str:
    return "未设" if target is None else f"{target} 份"


def describe_changes(before: dict | None, after: dict | None, names: Names | None = None) -> list[str]:
    """Each field an entry records, as "字段：值" (a creation or an event) or "字段：前 → 后"
    (a change; fields that did not change are left out). A password only ever reads 已重设."""
    names = names or Names()
    before, after = before or {}, after or {}
    lines = []
    for name in list(before) + [k for k in after if k not in before]:
        label = field_label(name)
        if name in SECRET_FIELDS:
            lines.append(f"{label}：{SECRET_FIELDS[name]}")
        elif name not in before:
            lines.append(f"{label}：{format_value(name, after[name], names)}")
        elif name not in after:
            lines.append(f"{label}：{format_value(name, before[name], names)}{ARROW}{NOTHING}")
        elif before[name] == after[name]:
            continue
        elif name == "targets" and isinstance(before[name], dict) and isinstance(after[name], dict):
            lines.extend(_target_changes(before[name], after[name], names))
        else:
            lines.append(f"{label}：{format_value(name, before[name], names)}{ARROW}"
                         f"{format_value(name, after[name], names)}")
    return lines


def _target_changes(before: dict, after: dict, names: Names) -> list[str]:
    """A campaign's targets, one line per community whose target changed (or that joined)."""
    lines = []
    for code in list(before) + [c for c in after if c not in before]:
        if before.get(code) == after.get(code) and (code in before) == (code in after):
            continue
        community = names.region_codes.get(str(code), code)
        old = _target(before[code]) if code in before else "（不在调查中）"
        new = _target(after[code]) if code in after else "（不在调查中）"
        lines.append(f"{FIELD_LABELS['targets']}（{community}）：{old}{ARROW}{new}")
    return lines


def readable(entry, names: Names) -> ReadableEntry:
    """An entry (with the columns of an AuditEntry) in words."""
    if entry.account_id is None:
        username, display_name = "", "命令行"
    else:
        username, display_name = names.accounts.get(entry.account_id, (f"#{entry.account_id}", f"#{entry.account_id}"))
    return ReadableEntry(
        at=local_time(entry.at),
        actor=display_name,
        actor_username=username,
        action=action_label(entry.action),
        object_type=object_label(entry.object_type),
        object_name=object_name(entry.object_type, entry.object_id, names),
        region=names.regions.get(entry.region_id, f"#{entry.region_id}") if entry.region_id is not None else "—",
        changes=describe_changes(entry.before, entry.after, names),
    )
