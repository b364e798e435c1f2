"""A campaign's cross-tab (交叉分析): one question against another, or against a respondent group.

The database counts the pairs of answers one response gave (one query, the answers table joined to
itself on the response); app.analysis.crosstab turns the count table into percentages and the test;
this module names the rows and columns from the questionnaire and says, in Chinese, what the
reader must know.

- Rows: a single-choice, scale (likert) or multiple-choice question. Columns: another such question,
  or a respondent group: ``community``, ``street``, ``channel`` or ``item:<key>`` of a single-choice
  question (the groupings of the summary, queries.py; the district and the campaign make one column,
  nothing to cross).
- Answers are listed in the questionnaire's order (a scale best level first), then any code the
  question no longer offers (answered under an earlier wording), labelled by the code.
- A scale's 不了解/说不清 (its off-scale answers) is left out by default (``drop_dont_know``), as the
  summary keeps it apart from the scale; their number is given in a note. With
  ``drop_dont_know=False`` it is a row or column of its own, labelled by the scale's words.
- A multiple-choice question makes one row or column per option: a resident counts once for every
  option ticked, so the table counts ticks, not people, and the chi-square test, which needs each
  person in one cell, is not made.
- A response that did not answer both (the question and the other question, or the question at all
  for a group) is not counted. Excluded responses are left out unless ``include_excluded``.
- Only the communities of the reader's scope are counted; the filter in the result lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from ..analysis.crosstab import Crosstab, conclusion, crosstab
from ..definitions import Item
from ..extensions import db
from ..models import Campaign, Channel, Region
from . import queries, summary

#: The question types a cross-tab takes: each answer is one of a few codes.
CROSSABLE_TYPES = ("single", "likert", "multiple")
#: The respondent groups a column may be, besides another question or ``item:<key>``.
GROUP_COLUMNS = ("community", "street", "channel")
GROUP_TITLES = {"community": "社区", "street": "街道", "channel": "渠道"}
TYPE_WORDS = {"text": "填空题", "number": "数字题"}
PERCENTAGES = ("row", "column", "total")


class CrosstabError(ValueError):
    """A cross-tab the campaign cannot make: ``message`` for the API, ``chinese`` for the page."""

    def __init__(self, message: str, chinese: str):
        super().__init__(message)
        self.message = message
        self.chinese = chinese


@dataclass(frozen=True)
class Category:
    #: The answer code, region id or channel the database holds.
    code: object
    label: str


@dataclass(frozen=True)
class Axis:
    #: What the request named: an item key, a grouping, or item:<key>.
    name: str
    #: "item" for a question (also item:<key>), else the grouping.
    kind: str
    title: str
    item: Item | None = None

    @property
    def multiple(self) -> bool:
        return self.item is not None and self.item.type == "multiple"

    def to_dict(self, categories: list[Category]) -> dict:
        d = {"name": self.name, "kind": self.kind, "title": self.title}
        if self.item is not None:
            d |= {"item": self.item.key, "type": self.item.type}
        return d | {"categories": [{"code": _json_code(c.code), "label": c.label} for c in categories]}


def _json_code(code):
    return code.value if isinstance(code, Channel) else code


def parse_flag(raw: str | None, name: str, default: bool) -> bool:
    value = (raw or "").strip().lower()
    if value == "":
        return default
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise CrosstabError(f"{name} must be true or false; got {raw!r}", f"参数 {name} 只能是 true 或 false。")
    return value in ("1", "true", "yes", "on")


def _question(campaign: Campaign, key: str, side: str) -> Item:
    item = campaign.survey_version.survey_definition.items_by_key.get(key)
    if item is None:
        raise CrosstabError(f"{side}: the questionnaire has no item {key!r}", f"问卷里没有“{key}”这一题。")
    if item.type not in CROSSABLE_TYPES:
        raise CrosstabError(
            f"{side}: item {key!r} is a {item.type} item; a cross-tab takes single-choice, likert or "
            "multiple-choice items",
            f"“{item.text}”是{TYPE_WORDS.get(item.type, '这类题')}，答案不是几个选项，不能做交叉分析。")
    return item


def row_axis(campaign: Campaign, row: str | None) -> Axis:
    if not row:
        raise CrosstabError("row (an item key) is required", "请选择行（题目）。")
    item = _question(campaign, row, "row")
    return Axis(row, "item", item.text, item)


def column_axis(campaign: Campaign, col: str | None) -> Axis:
    if not col:
        raise CrosstabError("col (an item key, community, street, channel or item:<key>) is required",
                            "请选择列（题目或人群）。")
    if col in GROUP_COLUMNS:
        return Axis(col, col, GROUP_TITLES[col])
    if col.startswith(queries.ITEM_GROUPING):
        try:
            item = summary.grouping_item(campaign, col)
        except ValueError:
            raise CrosstabError(f"col {col!r}: the questionnaire has no single-choice question "
                                f"{col.removeprefix(queries.ITEM_GROUPING)!r}",
                                "按题目分人群只能用问卷里的单选题。") from None
        return Axis(col, "item", item.text, item)
    if col in queries.GROUPINGS:  # district, campaign: one column, nothing to cross
        raise CrosstabError(f"col must be an item key, {', '.join(GROUP_COLUMNS)} or item:<key>; got {col!r}",
                            "列只能是题目，或按社区、街道、渠道分的人群。")
    item = _question(campaign, col, "col")
    return Axis(col, "item", item.text, item)


def check(campaign: Campaign, row: str | None, col: str | None) -> tuple[Axis, Axis]:
    """The two axes a request names; CrosstabError when it names a bad one or one question twice."""
    rows, columns = row_axis(campaign, row), column_axis(campaign, col)
    if columns.item is not None and columns.item.key == rows.item.key:
        raise CrosstabError(f"row and col name the same item {rows.item.key!r}", "行和列是同一题，请换一题。")
    return rows, columns


# -- counting --------------------------------------------------------------------------------


def _off_scale(axis: Axis, drop_dont_know: bool) -> list[str]:
    if not drop_dont_know or axis.item is None or axis.item.scale is None:
        return []
    return [c.code for c in axis.item.scale.off_scale]


def _count_pairs(campaign: Campaign, rows: Axis, columns: Axis, community_ids, include_excluded: bool,
                 drop_dont_know: bool, include_flagged: bool = False):
    """((row code, column code, n) for every pair with a count, the responses in the table) in one
    query each: the row question's answers joined to the column's answer of the same response.
    The pairs include the 不了解 answers ``drop_dont_know`` leaves out of the table (to say how
    many); the responses do not."""
    answers, responses = queries.answers, queries.responses
    mine = answers.alias("row_answer")
    source = mine
    conditions = [mine.c.campaign_id == campaign.id, mine.c.item == rows.item.key,
                  mine.c.community_id.in_(sorted(community_ids))]
    if not include_excluded or not include_flagged or columns.kind == "channel":
        source = source.join(responses, responses.c.id == mine.c.response_id)
        if not include_excluded:
            conditions.append(responses.c.exclusion_reason.is_(None))
        if not include_flagged:
            conditions.append(responses.c.quality_flags == 0)
    if columns.kind == "item":
        other = answers.alias("col_answer")
        source = source.join(other, sa.and_(other.c.response_id == mine.c.response_id,
                                            other.c.item == columns.item.key))
        column = other.c.value
    elif columns.kind == "community":
        column = mine.c.community_id
    elif columns.kind == "street":
        community = Region.__table__.alias("community_region")
        source = source.join(community, community.c.id == mine.c.community_id)
        column = community.c.parent_id
    else:
        column = responses.c.channel
    kept = [mine.c.value.not_in(codes) for codes in [_off_scale(rows, drop_dont_know)] if codes]
    kept += [column.not_in(codes) for codes in [_off_scale(columns, drop_dont_know)] if codes]
    pairs = db.session.execute(
        sa.select(mine.c.value, column, sa.func.count()).select_from(source).where(*conditions)
        .group_by(mine.c.value, column)).all()
    respondents = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(mine.c.response_id))).select_from(source).where(*conditions, *kept))
    return pairs, respondents


def _item_categories(item: Item, seen: set, drop_dont_know: bool) -> tuple[list[Category], list[Category]]:
    """(listed, dropped): the item's answers in the questionnaire's order and the codes it no
    longer offers; the scale's off-scale answers go to ``dropped`` when ``drop_dont_know``."""
    off_scale = list(item.scale.off_scale) if item.scale is not None else []
    dropped = [Category(c.code, c.label) for c in off_scale] if drop_dont_know else []
    kept = [Category(c.code, c.label) for c in item.choices if not (drop_dont_know and c in off_scale)]
    unknown = sorted(code for code in seen if code not in item.codes)
    return kept + [Category(code, code) for code in unknown], dropped


def _group_categories(campaign: Campaign, kind: str, community_ids: frozenset[int], seen: set) -> list[Category]:
    if kind == "channel":
        return [Category(channel, channel.label) for channel in Channel if channel in seen or not seen]
    if kind == "community":
        wanted = set(community_ids)
    else:
        wanted = set(db.session.scalars(sa.select(Region.parent_id).where(Region.id.in_(sorted(community_ids)))))
    regions = queries.campaign_regions(campaign.id, kind, seen & wanted)
    return [Category(id_, name) for id_, _code, name, _target in regions if id_ in wanted]


def _floats(values: np.ndarray) -> list:
    column = values.astype(object)
    column[np.isnan(values)] = None
    return column.tolist()


def _percentages(table: Crosstab) -> dict:
    """Each percentage table with its 合计 column (one per row) and 合计 row (one per column)."""
    def full(margin: np.ndarray) -> list:
        return _floats(np.where(margin > 0, 100.0, np.nan))
    corner = 100.0 if table.total else None
    return {
        "row": {"cells": _floats(table.row_percent), "row_totals": full(table.row_totals),
                "column_totals": _floats(table.column_total_percent), "total": corner},
        "column": {"cells": _floats(table.column_percent), "row_totals": _floats(table.row_total_percent),
                   "column_totals": full(table.column_totals), "total": corner},
        "total": {"cells": _floats(table.total_percent), "row_totals": _floats(table.row_total_percent),
                  "column_totals": _floats(table.column_total_percent), "total": corner},
    }


def _test(table: Crosstab, row_categories: list[Category], column_categories: list[Category]) -> dict | None:
    test = table.test
    if test is None:
        return None
    return {
        "method": "Pearson chi-square test of independence, no continuity correction",
        "statistic": test.statistic, "dof": test.dof, "pvalue": test.pvalue, "cramers_v": test.cramers_v,
        "low_expected_share": test.low_expected_share, "min_expected": test.min_expected,
        "small_expected": test.small_expected, "fisher_pvalue": test.fisher_pvalue,
        "rows_tested": [_json_code(row_categories[i].code) for i in test.rows_tested],
        "columns_tested": [_json_code(column_categories[j].code) for j in test.columns_tested],
    }


def campaign_crosstab(campaign: Campaign, row: str | None, col: str | None, community_ids: frozenset[int], *,
                      include_excluded: bool = False, drop_dont_know: bool = True, include_flagged: bool = False,
                      covers_all: bool = True) -> dict:
    """The cross-tab of ``row`` (an item key) by ``col`` (an item key, a grouping or item:<key>) over
    the responses of ``community_ids``, ready for JSON: categories, counts with totals, the row,
    column and total percentages, expected counts, the chi-square test and its reading in Chinese,
    notes, n and the filter used. CrosstabError for a bad request."""
    rows, columns = check(campaign, row, col)
    pairs, respondents = _count_pairs(campaign, rows, columns, community_ids, include_excluded, drop_dont_know,
                                      include_flagged=include_flagged)
    row_seen = {r for r, _, _ in pairs}
    column_seen = {c for _, c, _ in pairs}
    row_categories, row_dropped = _item_categories(rows.item, row_seen, drop_dont_know)
    if columns.kind == "item":
        column_categories, column_dropped = _item_categories(columns.item, column_seen, drop_dont_know)
    else:
        column_categories, column_dropped = _group_categories(campaign, columns.kind, community_ids,
                                                              column_seen), []
    row_position = {c.code: i for i, c in enumerate(row_categories)}
    column_position = {c.code: j for j, c in enumerate(column_categories)}
    counts = np.zeros((len(row_categories), len(column_categories)), dtype=np.int64)
    dropped = {"row": 0, "col": 0}
    for r, c, n in pairs:
        if r not in row_position:
            dropped["row"] += n
        elif c not in column_position:
            dropped["col"] += n
        else:
            counts[row_position[r], column_position[c]] += n
    multiple = rows.multiple or columns.multiple
    table = crosstab(counts, [c.label for c in row_categories], [c.label for c in column_categories],
                     test=not multiple)

    notes = []
    if columns.kind == "item":
        notes.append("只统计两题都回答了的问卷，没回答其中一题的不计入。")
    else:
        notes.append("只统计回答了这一题的问卷，没回答的不计入。")
    for side, axis, lost, off in (("行", rows, dropped["row"], row_dropped), ("列", columns, dropped["col"],
                                                                              column_dropped)):
        if off and lost:
            labels = "、".join(f"“{c.label}”" for c in off)
            notes.append(f"{side}题的{labels}回答有 {lost} 个没有列进表里，也不参加检验"
                         "（它们不在量表上；要列出来，请勾选“列出‘不了解/说不清’”，接口用 drop_dont_know=false）。")
        if axis.multiple:
            notes.append(f"{side}题“{axis.item.text}”是多选题：一位居民每勾一个选项就在表里记一次，合计是勾选次数，"
                         "不是人数，所以不做卡方检验。")
    notes.extend(table.notes)
    if table.test is not None:
        notes.append("卡方检验把回答的人当作随机样本；扫码、坝坝会、纸质问卷等渠道的回答不是随机抽取的，"
                     "检验结果只能说明回答的这些人。")
    notes.append("已剔除的问卷也计入了。" if include_excluded else "已剔除的问卷没有计入。")
    notes.append("可疑问卷（有质量标记）也计入了。" if include_flagged else "可疑问卷（有质量标记）没有计入。")
    if not covers_all:
        notes.append(f"只含您管辖的 {len(community_ids)} 个社区。")

    alpha = round(1 - campaign.confidence, 10)
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "filter": {"row": rows.name, "col": columns.name, "include_excluded": include_excluded,
                   "include_flagged": include_flagged,
                   "drop_dont_know": drop_dont_know, "community_ids": sorted(community_ids)},
        "row": rows.to_dict(row_categories),
        "col": columns.to_dict(column_categories),
        "n": table.total,
        "respondents": respondents,
        "counts_are": "ticks" if multiple else "respondents",
        "counts": table.counts.tolist(),
        "row_totals": table.row_totals.tolist(),
        "column_totals": table.column_totals.tolist(),
        "percentages": _percentages(table),
        "expected": _floats(table.expected),
        "test": _test(table, row_categories, column_categories),
        "alpha": alpha,
        "conclusion": conclusion(table.test, alpha),
        "notes": notes,
    }


# -- files -----------------------------------------------------------------------------------

PERCENT_TITLES = {"row": "行百分比（%）", "column": "列百分比（%）", "total": "总百分比（%）"}


def _round(x, places: int = 1):
    return None if x is None else round(x, places)


def crosstab_rows(result: dict) -> tuple[list[str], list[list]]:
    """The cross-tab as a sheet: the counts with their totals, then each percentage table."""
    row_labels = [c["label"] for c in result["row"]["categories"]]
    header = [f"{result['row']['title']} ＼ {result['col']['title']}",
              *(c["label"] for c in result["col"]["categories"]), "合计"]
    rows: list[list] = [[label, *counts, total]
                        for label, counts, total in zip(row_labels, result["counts"], result["row_totals"])]
    rows.append(["合计", *result["column_totals"], result["n"]])
    for kind in PERCENTAGES:
        table = result["percentages"][kind]
        rows += [[], [PERCENT_TITLES[kind]]]
        rows += [[label, *(_round(x) for x in cells), _round(total)]
                 for label, cells, total in zip(row_labels, table["cells"], table["row_totals"])]
        rows.append(["合计", *(_round(x) for x in table["column_totals"]), _round(table["total"])])
    return header, rows


def method_lines(result: dict) -> list[list[str]]:
    """The test, the notes and the filter: what the numbers are and where they came from."""
    test = result["test"]
    lines = [["行", f"{result['row']['title']}（{result['filter']['row']}）"],
             ["列", f"{result['col']['title']}（{result['filter']['col']}）"],
             ["计数", "勾选次数（多选题）" if result["counts_are"] == "ticks" else "人数"],
             ["合计", str(result["n"])],
             ["问卷份数", str(result["respondents"])],
             ["结论", result["conclusion"] or "没有做检验"]]
    if test is not None:
        lines += [["卡方值", f"{test['statistic']:.4f}"], ["自由度", str(test["dof"])],
                  ["p 值", f"{test['pvalue']:.4g}"], ["Cramér's V", f"{test['cramers_v']:.4f}"]]
        if test["fisher_pvalue"] is not None:
            lines.append(["Fisher 精确检验 p 值", f"{test['fisher_pvalue']:.4g}"])
    lines += [["说明", note] for note in result["notes"]]
    lines += [["含已剔除问卷", "是" if result["filter"]["include_excluded"] else "否"],
              ["含可疑问卷", "是" if result["filter"]["include_flagged"] else "否"],
              ["列出不了解", "否" if result["filter"]["drop_dont_know"] else "是"],
              ["社区编号", "、".join(str(i) for i in result["filter"]["community_ids"])]]
    return lines
