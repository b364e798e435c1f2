"""A scored campaign's ranking as a table evaluators take into Excel or WPS: CSV in UTF-8 with a
byte-order mark (without it Excel reads Chinese as mojibake) and XLSX with a sheet of the method.

Input is what campaign_scores returns (the scores API's JSON), so the file and the API show the
same figures.
"""

from __future__ import annotations

from .spreadsheets import add_notes, add_table, as_csv, new_workbook, workbook_bytes

__all__ = ["HEADER", "as_csv", "as_xlsx", "method_lines", "ranking_rows"]

HEADER = ["排名", "排名范围（最好）", "排名范围（最差）", "社区编码", "社区", "有效问卷", "总分", "总分下限", "总分上限",
          "分不出高低的社区数", "说明"]


def _round(x, places: int = 2):
    return None if x is None else round(x, places)


def ranking_rows(scores: dict) -> tuple[list[str], list[list]]:
    """The header and one row per community, ranked first (best first), then those not scored.
    Each leaf indicator's points follow the fixed columns, in the scheme's order."""
    leaves = [i for i in scores["scheme"]["indicators"] if i["feed"] is not None]
    header = HEADER + [f"{leaf['label']}（{leaf['id']}）" for leaf in leaves]
    rows = []
    for c in scores["communities"]:
        points = {i["id"]: i["points"] for i in c["indicators"]}
        notes = [c["interval_note"]] if c.get("interval_note") else []
        if c["score"] is None:
            notes.append(f"算不出总分：缺 {len(c['unscorable'])} 项")
        interval, ranks = c["score_interval"] or {}, c["rank_interval"] or {}
        rows.append([c["rank"], ranks.get("low"), ranks.get("high"), c["code"], c["name"], c["respondents"],
                     _round(c["score"]), _round(interval.get("low")), _round(interval.get("high")),
                     len(c["not_told_apart_from"]) if c["rank"] is not None else None, "；".join(notes)]
                    + [_round(points.get(leaf["id"])) for leaf in leaves])
    return header, rows


def method_lines(scores: dict) -> list[list[str]]:
    """What the figures are, for the sheet beside the table (the page that goes into the 档案)."""
    unit = "百分制（满分的百分比）" if scores["score_unit"] == "percent" else "分"
    return [
        ["评分方案", scores["scheme"]["title"]],
        ["总分单位", unit],
        ["排名的社区数", str(scores["ranked"])],
        ["总分范围和排名范围", (f"按居民重抽 {scores['replicates']} 次（随机种子 {scores['seed']}），"
                               f"{round(scores['confidence'] * 100)}% 把握；只反映问卷抽样的不确定性，"
                               "考评人员录入的分数按录入值计算")],
        ["分不出高低", "排名范围有重叠、重抽时互有高低的社区，这次问卷分不出谁高谁低"],
        ["定稿", scores["locked_at"] or "未定稿"],
    ]


def as_xlsx(header: list[str], rows: list[list], method: list[list[str]], title: str = "排名") -> bytes:
    """A workbook of the table (sheet ``title``) and a 说明 sheet of ``method`` lines."""
    book = new_workbook()
    add_table(book, title, header, rows)
    add_notes(book, method)
    return workbook_bytes(book)
