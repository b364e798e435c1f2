"""A campaign's raw responses with their codebook, and its summary tables, as evaluators take them
into Excel, WPS or SPSS.

- The raw data: one row per response (of the communities asked for), fixed columns about the
  response, then one column per item in questionnaire order (a multiple-choice item: one 0/1 column
  per option). Never the device or network hashes. Excluded responses only when asked for.
- The codebook: every column's variable name, label (the question's words), type and value labels,
  from the stored survey definition.
- The summary tables: what campaign_summary returns (the summary API's figures), as a table of
  communities and a long table of every item's answers.

The JSON API and every file are made from the same rows, so they hold the same values. Variable
names are valid SPSS names (a letter first, then letters, digits and _; at most 64 bytes; no two
alike ignoring case; no reserved word).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import sqlalchemy as sa

from ..definitions import Item, SurveyDefinition
from ..extensions import db
from ..models import Answer, Campaign, Channel, QualityFlag, Region, Response
from ..templating import LOCAL_TZ
from .spreadsheets import PERCENT, add_notes, add_table, as_csv, new_workbook, workbook_bytes

#: SPSS's reserved words: never a variable name (case does not matter to SPSS).
SPSS_RESERVED = frozenset({"all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"})
SPSS_NAME_BYTES = 64
#: What an SPSS file holds of a variable label, a value label and the file label (bytes of UTF-8);
#: longer ones are cut at a character's end with an ellipsis, not mid-character by the writer.
SPSS_LABEL_BYTES, SPSS_VALUE_LABEL_BYTES, SPSS_FILE_LABEL_BYTES = 255, 120, 64
_INTEGER_CODE = re.compile(r"^-?\d{1,9}$")

#: Words for the codebook's type column.
TYPE_LABELS = {
    "response": "问卷信息",
    "likert": "量表题",
    "single": "单选题",
    "multiple": "多选题（每个选项一列：1 选了，0 没选，空白 没答这题）",
    "number": "数字题",
    "text": "填空题",
}

TICKED_LABELS = {1: "选了", 0: "没选"}
EXCLUDED_LABELS = {0: "计入统计", 1: "已剔除"}

RANDOM_SAMPLE_NOTE_ZH = ("只有随机发放的问卷票（渠道 ticket）是居民的随机样本；扫码、坝坝会、纸质问卷和导入的问卷不是，"
                         "它们的区间只说明答题的这些人，不代表整个社区。")


@dataclass(frozen=True)
class Variable:
    """One column of the raw data, as the codebook describes it."""

    #: A valid SPSS variable name, the column's name in every file.
    name: str
    #: The question's words (with the option's for a multiple-choice column), or what the column is.
    label: str
    #: "response" for the columns about the response, else the item's type.
    type: str
    item: str | None = None
    #: The option a multiple-choice column stands for.
    option: str | None = None
    #: Numbers (codes, counts, 0/1) rather than words.
    numeric: bool = True
    #: Exported value → its meaning, in the order shown.
    value_labels: dict = field(default_factory=dict)
    #: Exported values that are answers off the scale (不了解/说不清): user-missing in SPSS.
    missing: tuple = ()
    #: Stored answer code → exported value, where they differ (an off-scale code given a number).
    recodes: dict = field(default_factory=dict)
    #: SPSS's measurement level: nominal, ordinal or scale.
    measure: str = "nominal"

    def to_dict(self) -> dict:
        return {
            "name": self.name, "label": self.label, "type": self.type, "type_label": TYPE_LABELS[self.type],
            "item": self.item, "option": self.option, "numeric": self.numeric, "measure": self.measure,
            "values": [{"value": value, "label": label, "missing": value in self.missing,
                        "code": next((code for code, v in self.recodes.items() if v == value), None)}
                       for value, label in self.value_labels.items()],
        }

    def value_of(self, code: str):
        """The exported value of a stored answer code of a single-choice or likert item."""
        if code in self.recodes:
            return self.recodes[code]
        if self.numeric:
            return int(code) if _INTEGER_CODE.fullmatch(code) else code
        return code


# -- variable names -------------------------------------------------------------------


class _Names:
    """Hands out valid SPSS variable names, none alike ignoring case."""

    def __init__(self):
        self.taken: set[str] = set()

    def __call__(self, wanted: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", wanted)
        if not base or not base[0].isalpha():
            base = "v" + base
        base = base[:SPSS_NAME_BYTES]
        name, n = base, 1
        while name.lower() in self.taken or name.lower() in SPSS_RESERVED:
            n += 1
            suffix = f"_{n}"
            name = base[:SPSS_NAME_BYTES - len(suffix)] + suffix
        self.taken.add(name.lower())
        return name


# -- the codebook ---------------------------------------------------------------------


def _flag_labels() -> dict[int, str]:
    labels = {0: "无"}
    for bits in range(1, max(QualityFlag) * 2):
        labels[bits] = "；".join(QualityFlag(bits).labels)
    return labels


def response_variables(names: _Names) -> list[Variable]:
    """The columns about each response, before the answers."""
    return [
        Variable(names("response_id"), "问卷编号", "response", measure="nominal"),
        Variable(names("community_code"), "社区编码", "response", numeric=False),
        Variable(names("community"), "社区", "response", numeric=False),
        Variable(names("street"), "街道", "response", numeric=False),
        Variable(names("channel"), "渠道（怎么收到的）", "response", numeric=False,
                 value_labels={c.value: c.label + ("（随机样本）" if c.is_random_sample else "") for c in Channel}),
        Variable(names("submitted_at"), "提交时间（北京时间）", "response", numeric=False),
        Variable(names("quality_flags"), "质量标记（可相加：1 整组答案完全相同，2 填得特别快，4 同一网络短时间内大量提交）",
                 "response", value_labels=_flag_labels()),
        Variable(names("excluded"), "是否已剔除（剔除的问卷不计入统计）", "response", value_labels=EXCLUDED_LABELS),
        Variable(names("exclusion_reason"), "剔除原因", "response", numeric=False),
    ]


def _choice_variable(item: Item, name: str, extra_codes: Collection[str]) -> Variable:
    off_scale = {c.code for c in item.scale.off_scale} if item.scale else set()
    choices = [(c.code, c.label) for c in item.choices]
    choices += [(code, "（问卷里没有这个答案）") for code in sorted(extra_codes)]
    on_scale = [code for code, _ in choices if code not in off_scale]
    numeric = bool(on_scale) and all(_INTEGER_CODE.fullmatch(code) for code in on_scale)
    recodes: dict[str, int] = {}
    if numeric:
        # Off-scale answers with a word for a code (dk) get a number SPSS can hold: 99, 98 … (or
        # 999 … when the codes reach 99), declared missing so no mean or rate counts them.
        used = {int(code) for code, _ in choices if _INTEGER_CODE.fullmatch(code)}
        nines = 99
        while nines <= max(used, default=0):
            nines = nines * 10 + 9
        for code, _ in choices:
            if not _INTEGER_CODE.fullmatch(code):
                while nines in used:
                    nines -= 1
                recodes[code] = nines
                used.add(nines)
        if any(not _INTEGER_CODE.fullmatch(code) for code in on_scale):
            numeric = False
    variable = Variable(name, item.text, item.type, item=item.key, numeric=numeric, recodes=recodes,
                        measure="ordinal" if item.type == "likert" and numeric else "nominal")
    return replace(variable, value_labels={variable.value_of(code): label for code, label in choices},
                   missing=tuple(variable.value_of(code) for code, _ in choices if code in off_scale))


def item_variables(definition: SurveyDefinition, names: _Names,
                   extra_codes: dict[str, set[str]] | None = None) -> list[Variable]:
    """The answer columns, in questionnaire order. ``extra_codes``: per item, answer codes found in
    the data that the definition does not list (kept, labelled as such, never dropped)."""
    extra_codes = extra_codes or {}
    variables = []
    for item in definition.items:
        if item.type in ("single", "likert"):
            variables.append(_choice_variable(item, names(item.key), extra_codes.get(item.key, ())))
        elif item.type == "multiple":
            options = [(c.code, c.label) for c in item.options]
            options += [(code, "（问卷里没有这个选项）") for code in sorted(extra_codes.get(item.key, ()))]
            variables += [Variable(names(f"{item.key}_{code}"), f"{item.text}：{label}", "multiple", item=item.key,
                                   option=code, value_labels=dict(TICKED_LABELS))
                          for code, label in options]
        elif item.type == "number":
            label = item.text + (f"（单位：{item.unit}）" if item.unit else "")
            variables.append(Variable(names(item.key), label, "number", item=item.key, measure="scale"))
        else:
            variables.append(Variable(names(item.key), item.text, "text", item=item.key, numeric=False))
    return variables


def codebook(campaign: Campaign, extra_codes: dict[str, set[str]] | None = None) -> list[Variable]:
    """Every column of the campaign's raw data, in order."""
    names = _Names()
    return response_variables(names) + item_variables(campaign.survey_version.survey_definition, names, extra_codes)


def codebook_rows(variables: Sequence[Variable]) -> tuple[list[str], list[list]]:
    """The codebook as a table: one row per value label (one row for a column without any)."""
    header = ["变量名", "题目或说明", "类型", "题目编号", "取值", "取值含义", "原编码", "不计入满意率等统计"]
    rows = []
    for v in variables:
        if not v.value_labels:
            rows.append([v.name, v.label, TYPE_LABELS[v.type], v.item, None, None, None, None])
        for value, label in v.value_labels.items():
            original = next((code for code, r in v.recodes.items() if r == value), None)
            rows.append([v.name, v.label, TYPE_LABELS[v.type], v.item, value, label, original,
                         "是" if value in v.missing else None])
    return header, rows


# -- the raw data ---------------------------------------------------------------------


@dataclass(frozen=True)
class RawData:
    campaign: Campaign
    variables: list[Variable]
    #: One list of values per response, in the variables' order.
    rows: list[list]
    #: Responses matching the filter (all pages).
    total: int
    #: Excluded responses among the communities asked for: in the rows when include_excluded, else left out.
    excluded: int
    include_excluded: bool
    community_ids: frozenset[int]

    def records(self) -> list[dict]:
        names = [v.name for v in self.variables]
        return [dict(zip(names, row)) for row in self.rows]


def _response_select(campaign_id: int, community_ids: Collection[int], include_excluded: bool) -> sa.Select:
    responses = Response.__table__
    where = [responses.c.campaign_id == campaign_id, responses.c.community_id.in_(list(community_ids))]
    if not include_excluded:
        where.append(responses.c.exclusion_reason.is_(None))
    return sa.select(responses.c.id).where(*where)


def _local_iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def raw_responses(campaign: Campaign, community_ids: Collection[int], include_excluded: bool = False,
                  offset: int = 0, limit: int | None = None) -> RawData:
    """The campaign's responses in ``community_ids`` (by id), one row each, with the codebook;
    ``offset``/``limit`` give one page of them."""
    community_ids = frozenset(community_ids)
    responses, answers = Response.__table__, Answer.__table__
    community, street = Region.__table__.alias("community"), Region.__table__.alias("street")
    chosen = _response_select(campaign.id, community_ids, include_excluded)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(chosen.subquery()))
    excluded = db.session.scalar(
        sa.select(sa.func.count()).select_from(responses)
        .where(responses.c.campaign_id == campaign.id, responses.c.community_id.in_(list(community_ids)),
               responses.c.exclusion_reason.is_not(None)))
    page = chosen.order_by(responses.c.id).offset(offset).limit(limit).subquery("page")
    head = db.session.execute(
        sa.select(responses.c.id, community.c.code, community.c.name, street.c.name, responses.c.channel,
                  responses.c.submitted_at, responses.c.quality_flags, responses.c.exclusion_reason)
        .join(page, page.c.id == responses.c.id)
        .join(community, community.c.id == responses.c.community_id)
        .outerjoin(street, street.c.id == community.c.parent_id)
        .order_by(responses.c.id)).all()
    given = db.session.execute(
        sa.select(answers.c.response_id, answers.c.item, answers.c.value, answers.c.number, answers.c.text)
        .join(page, page.c.id == answers.c.response_id)
        .order_by(answers.c.response_id, answers.c.item, answers.c.value)).all()

    definition = campaign.survey_version.survey_definition
    items = definition.items_by_key
    extra: dict[str, set[str]] = {}
    for _, key, value, _, _ in given:
        item = items.get(key)
        if item is not None and item.type in ("single", "likert", "multiple") and value not in item.codes:
            extra.setdefault(key, set()).add(value)
    variables = codebook(campaign, extra)
    position = {v.name: p for p, v in enumerate(variables)}
    by_item: dict[str, Variable] = {}
    by_option: dict[tuple[str, str], int] = {}
    options_of: dict[str, list[int]] = {}
    for p, v in enumerate(variables):
        if v.type == "multiple":
            by_option[(v.item, v.option)] = p
            options_of.setdefault(v.item, []).append(p)
        elif v.item is not None:
            by_item[v.item] = v

    rows: dict[int, list] = {}
    for id_, code, name, street_name, channel, submitted_at, flags, reason in head:
        row = [None] * len(variables)
        row[:9] = [id_, code, name, street_name, Channel(channel).value, _local_iso(submitted_at), flags,
                   int(reason is not None), reason]
        rows[id_] = row
    for response_id, key, value, number, text in given:
        row = rows.get(response_id)
        item = items.get(key)
        if row is None or item is None:  # an item no longer in the questionnaire has no column
            continue
        if item.type == "multiple":
            for p in options_of[key]:
                row[p] = row[p] or 0
            row[by_option[(key, value)]] = 1
        elif item.type == "number":
            integral = number is not None and item.integer and math.isfinite(number) and number == int(number)
            row[position[by_item[key].name]] = int(number) if integral else number
        elif item.type == "text":
            row[position[by_item[key].name]] = text
        else:
            variable = by_item[key]
            row[position[variable.name]] = variable.value_of(value)
    return RawData(campaign, variables, list(rows.values()), total, excluded, include_excluded, community_ids)


# -- summary tables -------------------------------------------------------------------


def _figures_by_group(summary: dict) -> dict:
    return {item["key"]: {g["key"]: g for g in item["groups"]} for item in summary["items"]}


def summary_tables(summary: dict, community_ids: Collection[int], total: dict | None = None
                   ) -> dict[str, tuple[list[str], list[list], dict[int, str]]]:
    """The summary (campaign_summary by community) as tables: sheet name → (header, rows, number formats).

    各社区: each community's respondents and target, and every likert item's valid n and
    satisfaction rate with its interval (shares 0–1, as the API gives them). 各题分布: one row per
    item, community and answer, with the count and its share of the valid answers (off-scale answers
    are counted and have no share). ``total`` (campaign_summary by campaign) adds a 全部社区 row.
    """
    community_ids = set(community_ids)
    groups = [g for g in summary["groups"] if g["key"] in community_ids]
    header = ["社区编码", "社区", "有效问卷（份）", "目标样本（份）"]
    formats = {}
    for item in summary["items"]:
        header += [f"{item['key']} 有效回答", f"{item['key']} 满意率", f"{item['key']} 满意率下限",
                   f"{item['key']} 满意率上限"]
        formats |= {len(header) - 3: PERCENT, len(header) - 2: PERCENT, len(header) - 1: PERCENT}

    # Each item's figures by group, indexed once: {item key: {group key: figures}}.
    by_group = _figures_by_group(summary)
    total_by_group = _figures_by_group(total) if total else {}

    def stats(index: dict, key) -> dict:
        return {item: figures[key] for item, figures in index.items()}

    def community_row(code, name, respondents, target, by_item: dict) -> list:
        row = [code, name, respondents, target]
        for item in summary["items"]:
            g = by_item[item["key"]]
            interval = g["rate_interval"] or {}
            row += [g["n_valid"], g["satisfaction_rate"], interval.get("low"), interval.get("high")]
        return row

    rows = [community_row(g["code"], g["name"], g["respondents"], g["target"], stats(by_group, g["key"]))
            for g in groups]
    whole = total["groups"][0] if total else None
    if whole:
        rows.append(community_row(None, "全部社区", whole["respondents"], None, stats(total_by_group, whole["key"])))

    dist_header = ["题目编号", "题目", "社区编码", "社区", "答案编码", "答案", "人数", "占有效回答", "说明"]
    dist_rows = []
    for item in summary["items"]:
        labels = {lv["code"]: lv["label"] for lv in item["scale"]["levels"]}
        off = {c["code"]: c["label"] for c in item["scale"]["off_scale"]}
        satisfied = set(item["scale"]["satisfied"])
        places = [(g["code"], g["name"], by_group[item["key"]][g["key"]]) for g in groups]
        if whole:
            places.append((None, "全部社区", total_by_group[item["key"]][whole["key"]]))
        for code, name, g in places:
            for d in g["distribution"]:
                dist_rows.append([item["key"], item["text"], code, name, d["code"], labels[d["code"]], d["count"],
                                  d["share"], "计入满意率" if d["code"] in satisfied else None])
            for off_code, count in g["off_scale_counts"].items():
                dist_rows.append([item["key"], item["text"], code, name, off_code, off[off_code], count, None,
                                  "不计入有效回答"])
    items_header = ["题目编号", "题目", "量表", "算满意的答案"]
    item_rows = [[item["key"], item["text"], item["scale"]["label"],
                  "、".join(lv["label"] for lv in item["scale"]["levels"] if lv["code"] in item["scale"]["satisfied"])]
                 for item in summary["items"]]
    return {"各社区": (header, rows, formats), "各题分布": (dist_header, dist_rows, {7: PERCENT}),
            "题目": (items_header, item_rows, {})}


# -- notes and writers ------------------------------------------------------------------


def _scope_words(campaign: Campaign, community_ids: Collection[int]) -> str:
    members = {cc.community_id: cc.community.name for cc in campaign.communities}
    chosen = [members[i] for i in members if i in community_ids]
    if len(chosen) == len(members):
        return f"本次测评的全部 {len(members)} 个社区"
    return f"{len(chosen)} 个社区：" + "、".join(chosen)


def raw_notes(data: RawData, generated_at: datetime) -> list[list[str]]:
    campaign = data.campaign
    version = campaign.survey_version
    if data.include_excluded:
        excluded = f"包含已剔除的问卷 {data.excluded} 份（excluded 列为 1，剔除原因见 exclusion_reason 列）；统计时应去掉它们"
    else:
        excluded = f"没有包含已剔除的问卷（这些社区共剔除 {data.excluded} 份，剔除的问卷不计入统计）"
    return [
        ["测评", campaign.name],
        ["问卷", f"{version.survey.title}（第 {version.number} 版）"],
        ["社区范围", _scope_words(campaign, data.community_ids)],
        ["问卷份数", str(data.total)],
        ["已剔除的问卷", excluded],
        ["时间", "submitted_at 是北京时间"],
        ["编码", ("每一列的题目和取值含义见“编码表”；多选题每个选项一列（1 选了，0 没选，空白 没答这题）；"
                  "“不了解/说不清”等不在量表上的答案单独编码，不计入满意率和平均分")],
        ["样本", RANDOM_SAMPLE_NOTE_ZH],
        ["个人信息", "文件里没有设备、网络等能认出答题人的信息；填空题是居民的原话，请妥善保管，不要公开"],
        ["生成时间", generated_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")],
    ]


def summary_notes(campaign: Campaign, summary: dict, community_ids: Collection[int],
                  generated_at: datetime, include_flagged: bool = True) -> list[list[str]]:
    return [
        ["测评", campaign.name],
        ["社区范围", _scope_words(campaign, community_ids)],
        ["已剔除的问卷", "不计入"],
        ["可疑问卷（有质量标记）", "计入" if include_flagged else
         "不计入（和结果看板默认的一样）；要计入，下载时选“计入可疑问卷”"],
        ["满意率", "算满意的答案（见“题目”表）占有效回答的比例；“不了解/说不清”等不计入有效回答"],
        ["区间", f"满意率的 Wilson 区间，{round(summary['confidence'] * 100)}% 把握"],
        ["样本", RANDOM_SAMPLE_NOTE_ZH],
        ["生成时间", generated_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")],
    ]


def raw_csv(data: RawData) -> bytes:
    return as_csv([v.name for v in data.variables], data.rows)


def codebook_csv(variables: Sequence[Variable]) -> bytes:
    return as_csv(*codebook_rows(variables))


def raw_xlsx(data: RawData, generated_at: datetime) -> bytes:
    book = new_workbook()
    add_table(book, "数据", [v.name for v in data.variables], data.rows)
    header, rows = codebook_rows(data.variables)
    add_table(book, "编码表", header, rows)
    add_notes(book, raw_notes(data, generated_at))
    return workbook_bytes(book)


def summary_xlsx(tables: dict, notes: list[list[str]]) -> bytes:
    book = new_workbook()
    for title, (header, rows, formats) in tables.items():
        add_table(book, title, header, rows, formats)
    add_notes(book, notes)
    return workbook_bytes(book)


def _fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, at a character's end, with … when cut."""
    if len(text.encode()) <= limit:
        return text
    cut = text.encode()[:limit - len("…".encode())].decode(errors="ignore")
    return cut + "…"


def raw_sav(data: RawData) -> bytes:
    """The raw data as an SPSS .sav (UTF-8): variable labels, value labels, off-scale answers as
    user-missing values, measurement levels."""
    import pandas as pd
    import pyreadstat

    columns = {}
    for p, v in enumerate(data.variables):
        values = [row[p] for row in data.rows]
        if v.numeric:
            columns[v.name] = pd.Series([math.nan if x is None else float(x) for x in values], dtype="float64")
        else:
            columns[v.name] = pd.Series(["" if x is None else str(x) for x in values], dtype="object")
    frame = pd.DataFrame(columns, columns=[v.name for v in data.variables])
    value_labels = {v.name: {(float(k) if v.numeric else str(k)): _fit(label, SPSS_VALUE_LABEL_BYTES)
                             for k, label in v.value_labels.items()}
                    for v in data.variables if v.value_labels}
    missing = {}
    for v in data.variables:
        if v.missing:
            values = [float(x) if v.numeric else str(x) for x in v.missing]
            missing[v.name] = values if len(values) <= 3 else [{"lo": min(values), "hi": max(values)}]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.sav")
        pyreadstat.write_sav(frame, path, file_label=_fit(data.campaign.name, SPSS_FILE_LABEL_BYTES),
                             column_labels={v.name: _fit(v.label, SPSS_LABEL_BYTES) for v in data.variables},
                             variable_value_labels=value_labels, missing_ranges=missing,
                             variable_measure={v.name: v.measure for v in data.variables})
        with open(path, "rb") as f:
            return f.read()
