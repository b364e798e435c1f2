"""PDF reports for the 档案: one per campaign (every community compared) and one per community.

Every figure comes from the functions the API serves (campaign_summary, response_counts,
driver_analysis, community_weighted, campaign_scores), so a printed rate is the API's rate. This
module only gathers those figures, words the method in plain Chinese and lays the pages out with
reportlab: A4, the built-in CJK font STSong-Light (nothing downloaded), charts as vector graphics
(reportlab.graphics), a footer with the campaign, the time generated and the page number.

What the reader may see is the caller's decision: the scores and the ranking (``schemes``), the
communities a figure may cover (``community_ids``, ``covers_all``) and the evaluators' reasons for
excluding responses (``reads_responses``). This module knows nothing of logins.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from datetime import datetime
from xml.sax.saxutils import escape

import sqlalchemy as sa
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Circle, Drawing, Line, Polygon, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..analysis.sampling import margin_of_error
from ..api.queries import response_counts
from ..definitions.schemes import FillInError, Scheme
from ..extensions import db
from ..models import Campaign, Region, Response
from ..models.types import utcnow
from ..models.weighting import PopulationMargin
from ..templating import local_time
from . import analyses, weighting
from . import scores as scoring
from .queries import ResponseFilter
from .summary import campaign_summary

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
#: The width the story may use.
WIDTH = PAGE_WIDTH - 2 * MARGIN
#: Rows of one whisker chart (a longer list is drawn as several charts, each fits a page).
CHART_ROWS = 35

TITLE = ParagraphStyle("title", fontName=FONT, fontSize=20, leading=28, spaceAfter=8, wordWrap="CJK")
HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=14, leading=20, spaceBefore=12, spaceAfter=6,
                         wordWrap="CJK", textColor=colors.HexColor("#1f3a5f"))
SUBHEADING = ParagraphStyle("subheading", fontName=FONT, fontSize=11, leading=16, spaceBefore=8, spaceAfter=4,
                            wordWrap="CJK")
BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=15, spaceAfter=3, wordWrap="CJK")
NOTE = ParagraphStyle("note", fontName=FONT, fontSize=8, leading=12, textColor=colors.HexColor("#444444"),
                      wordWrap="CJK")
CELL = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=11, wordWrap="CJK")

OVERALL_KEY = analyses.OVERALL_TAG


# -- wording ------------------------------------------------------------------------------


def percent(x: float | None) -> str:
    """A share as printed: one decimal, '—' when undefined (no answers)."""
    return "—" if x is None else f"{x * 100:.1f}%"


def interval_text(interval: dict | None) -> str:
    return "—" if interval is None else f"{percent(interval['low'])}–{percent(interval['high'])}"


def level_text(confidence: float) -> str:
    """0.95 → '95%'."""
    return f"{confidence * 100:g}%"


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(text), style)


def _cell(text) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)), CELL)


def _short(text: str, length: int = 14) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


def _table(rows: list[list], widths: list[float], *, numeric_from: int = 1, total_row: bool = False) -> Table:
    """A table with a shaded header row, repeated on every page it spans; numbers right-aligned."""
    table = Table([[c if isinstance(c, Paragraph) else _cell(c) if isinstance(c, str) and len(c) > 18 else c
                    for c in row] for row in rows], colWidths=widths, repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("LEADING", (0, 0), (-1, -1), 11),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if total_row:
        style.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f4f4f4")))
    table.setStyle(TableStyle(style))
    return table


# -- figures beyond the API's ---------------------------------------------------------------


def exclusions(campaign_id: int, community_ids: Sequence[int] | None = None) -> list[tuple[str, int]]:
    """(reason, responses) of the campaign's excluded responses, most frequent first."""
    where = [Response.campaign_id == campaign_id, Response.exclusion_reason.is_not(None)]
    if community_ids is not None:
        where.append(Response.community_id.in_(list(community_ids)))
    n = sa.func.count()
    return [(reason, count) for reason, count in db.session.execute(
        sa.select(Response.exclusion_reason, n).where(*where)
        .group_by(Response.exclusion_reason).order_by(n.desc(), Response.exclusion_reason)).all()]


def flagged_counted(campaign_id: int, community_ids: Sequence[int] | None = None) -> int:
    """Counted (not excluded) responses that carry a quality flag: they count as usual."""
    where = [Response.campaign_id == campaign_id, Response.exclusion_reason.is_(None), Response.quality_flags != 0]
    if community_ids is not None:
        where.append(Response.community_id.in_(list(community_ids)))
    return db.session.scalar(sa.select(sa.func.count()).select_from(Response).where(*where))


def headline_item(summary: dict, campaign: Campaign) -> dict | None:
    """The item the charts show: the overall-satisfaction item if the questionnaire tags one, else the first."""
    if not summary["items"]:
        return None
    tagged = {item.key for item in campaign.survey_version.survey_definition.items if OVERALL_KEY in item.tags}
    return next((item for item in summary["items"] if item["key"] in tagged), summary["items"][0])


def satisfied_labels(item: dict) -> tuple[list[str], list[str]]:
    """The labels of the levels that count as satisfied, and of the off-scale answers."""
    scale = item["scale"]
    satisfied = set(scale["satisfied"])
    return ([lv["label"] for lv in scale["levels"] if lv["code"] in satisfied],
            [c["label"] for c in scale["off_scale"]])


def _quoted(labels: list[str]) -> str:
    return "或".join(f"“{label}”" for label in labels) if labels else "（无）"


# -- charts -------------------------------------------------------------------------------


def whisker_charts(title: str, rows: list[dict], *, reference_label: str | None = None) -> list[Drawing]:
    """Rates with their intervals, one row each (label, rate, interval, n, optional reference rate):
    a dot at the rate, a line over the interval, the reference (the whole campaign) as a hollow diamond."""
    drawings = []
    for start in range(0, max(len(rows), 1), CHART_ROWS):
        part = rows[start:start + CHART_ROWS]
        drawings.append(_whisker_chart(title if start == 0 else f"{title}（续）", part, reference_label))
    return drawings


def _whisker_chart(title: str, rows: list[dict], reference_label: str | None) -> Drawing:
    row_h, label_w, value_w, top, bottom = 15, 120, 118, 30, 34
    height = top + bottom + row_h * len(rows)
    d = Drawing(WIDTH, height)
    x0, x1 = label_w, WIDTH - value_w
    span = x1 - x0

    def x(rate: float) -> float:
        return x0 + rate * span

    d.add(String(0, height - 14, title, fontName=FONT, fontSize=10))
    axis_y = bottom - 6
    for tick in range(0, 101, 20):
        tx = x(tick / 100)
        d.add(Line(tx, axis_y, tx, height - top + 4, strokeColor=colors.HexColor("#dddddd"), strokeWidth=0.5))
        d.add(String(tx, axis_y - 10, f"{tick}%", fontName=FONT, fontSize=7, textAnchor="middle"))
    d.add(Line(x0, axis_y, x1, axis_y, strokeWidth=0.6))
    d.add(String(x1 + 4, height - top + 6, "满意率（区间）n", fontName=FONT, fontSize=7))
    for i, row in enumerate(rows):
        y = height - top - row_h * i - row_h / 2
        d.add(String(label_w - 6, y - 3, _short(row["label"], 12), fontName=FONT, fontSize=8, textAnchor="end"))
        if row.get("reference") is not None:
            rx = x(row["reference"])
            d.add(Polygon([rx, y + 4, rx + 4, y, rx, y - 4, rx - 4, y], fillColor=None,
                          strokeColor=colors.HexColor("#c0392b"), strokeWidth=0.8))
        if row["rate"] is None:
            d.add(String(x1 + 4, y - 3, f"无回答 n={row['n']}", fontName=FONT, fontSize=7))
            continue
        interval = row["interval"]
        if interval is not None:
            lo, hi = x(interval["low"]), x(interval["high"])
            d.add(Line(lo, y, hi, y, strokeWidth=1.2, strokeColor=colors.HexColor("#1f3a5f")))
            d.add(Line(lo, y - 3, lo, y + 3, strokeWidth=1, strokeColor=colors.HexColor("#1f3a5f")))
            d.add(Line(hi, y - 3, hi, y + 3, strokeWidth=1, strokeColor=colors.HexColor("#1f3a5f")))
        d.add(Circle(x(row["rate"]), y, 2.6, fillColor=colors.HexColor("#1f3a5f"), strokeColor=None))
        d.add(String(x1 + 4, y - 3, f"{percent(row['rate'])}（{interval_text(interval)}）n={row['n']}",
                     fontName=FONT, fontSize=6.5))
    if reference_label:
        d.add(Polygon([x0 + 4, 8, x0 + 8, 4, x0 + 4, 0, x0, 4], fillColor=None,
                      strokeColor=colors.HexColor("#c0392b"), strokeWidth=0.8))
        d.add(String(x0 + 12, 1, reference_label, fontName=FONT, fontSize=7))
    return d


def distribution_chart(title: str, labels: list[str], counts: list[int]) -> Drawing:
    """Bars of how many chose each answer."""
    height = 190
    d = Drawing(WIDTH, height)
    d.add(String(0, height - 14, title, fontName=FONT, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 36, WIDTH - 60, height - 70
    chart.data = [counts]
    chart.categoryAxis.categoryNames = [_short(label, 8) for label in labels]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(max(counts, default=0), 1) * 1.15
    chart.valueAxis.valueStep = max(1, round(chart.valueAxis.valueMax / 5))
    chart.valueAxis.labelTextFormat = "%d"
    chart.bars[0].fillColor = colors.HexColor("#4a78a8")
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 6
    d.add(chart)
    d.add(String(0, 4, "纵轴：人数（每个回答选了几人）", fontName=FONT, fontSize=7))
    return d


def _distribution(item: dict, group: dict) -> tuple[list[str], list[int]]:
    """Labels and counts of an item's answers in one group: the scale's levels, then its off-scale answers."""
    labels = [lv["label"] for lv in item["scale"]["levels"]] + [c["label"] for c in item["scale"]["off_scale"]]
    counts = [d["count"] for d in group["distribution"]] + [group["off_scale_counts"].get(c["code"], 0)
                                                             for c in item["scale"]["off_scale"]]
    return labels, counts


# -- page furniture ---------------------------------------------------------------------


def _numbered_canvas(footer: str):
    """A canvas that writes the footer and '第 i 页，共 n 页' once every page is known."""

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(FONT, 7.5)
                self.setFillColor(colors.HexColor("#555555"))
                self.setStrokeColor(colors.HexColor("#bbbbbb"))
                self.line(MARGIN, 12 * mm, PAGE_WIDTH - MARGIN, 12 * mm)
                self.drawString(MARGIN, 8 * mm, footer)
                self.drawRightString(PAGE_WIDTH - MARGIN, 8 * mm, f"第 {self._pageNumber} 页，共 {total} 页")
                super().showPage()
            super().save()

    return NumberedCanvas


def _build(story: list, title: str, footer: str, author: str) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN + 4 * mm, title=title, author=author, creator="民意 Minyi",
                            pageCompression=1)
    doc.build(story, canvasmaker=_numbered_canvas(footer))
    return buf.getvalue()


def _dates(campaign: Campaign) -> str:
    if campaign.opens_at is None:
        return "尚未定开始时间"
    end = local_time(campaign.closes_at) if campaign.closes_at else "不设结束时间"
    return f"{local_time(campaign.opens_at)} 至 {end}"


def _title_block(campaign: Campaign, heading: str, author: str, now: datetime, extra: list[list[str]]) -> list:
    rows = [["测评", campaign.name], ["问卷", campaign.survey_version.label], ["调查时间", _dates(campaign)],
            *extra, ["生成时间", local_time(now)], ["生成人", author]]
    table = Table([[k, _cell(v)] for k, v in rows], colWidths=[28 * mm, WIDTH - 28 * mm])
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 9),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc"))]))
    return [_p(heading, TITLE), table, Spacer(1, 6)]


# -- the method note --------------------------------------------------------------------


def _method_note(campaign: Campaign, summary: dict, received: int, excluded: list[tuple[str, int]], flagged: int,
                 weighting_line: str, include_flagged: bool, reads_responses: bool) -> list:
    """The method in words; the reasons for excluding responses only when ``reads_responses`` (they
    are the evaluators' notes on single responses), otherwise only how many were excluded."""
    level = level_text(campaign.confidence)
    counted = summary["respondents"]
    story = [_p("一、方法说明", HEADING)]
    lines = [
        (f"样本：共收到问卷 {received} 份，其中 {counted} 份计入统计（有效问卷）。各社区的有效问卷数与目标样本量见下表；"
         f"目标样本量默认按 {level} 把握、±{campaign.margin * 100:g}% 误差用 Cochran 公式（含有限总体校正）由户数算出，可人工调整。"),
    ]
    if excluded:
        reasons = "；".join(f"“{reason}” {n} 份" for reason, n in excluded)
        lines.append(f"不计入统计：{sum(n for _, n in excluded)} 份问卷被考评人员排除在统计之外"
                     + (f"，原因：{reasons}。" if reads_responses else "。")
                     + "这些问卷保留在系统里，但不进入本报告的任何数字。")
    else:
        lines.append("不计入统计：没有被排除的问卷。")
    if include_flagged:
        lines.append(f"可疑问卷：{flagged} 份问卷带有质量提示（答得过快、同一网络短时间内集中提交、"
                     "整组题选同一个答案），本报告照常计入，只作提示。")
    else:
        lines.append(f"可疑问卷：{flagged} 份问卷带有质量提示（答得过快、同一网络短时间内集中提交、"
                     "整组题选同一个答案），本报告没有计入（和结果看板默认的一样），它们也不在有效问卷里。")
    lines += [
        ("满意率 = 选计为“满意”的回答的人数 ÷ 回答此题且答在量表上的人数。“不了解/说不清”等不在量表上的回答不计入"
         "分母也不计入分子（单列人数）；没有回答此题的人也不计入。各题计为“满意”的回答写在各题表格下方。"),
        (f"区间：满意率的 {level} Wilson 区间（得分区间），样本小或满意率接近 0 或 100% 时也不会超出 0–100%。"
         "两个社区的区间重叠时，不能只凭满意率的高低断定谁更好。"),
        (f"误差范围：有效问卷 n 份时满意率的最大误差 ±z × √(0.5 × 0.5 ÷ n)，z 为 {level} 把握对应的正态分位数"
         f"（95% 时为 1.96）；按满意率 50% 这种最不利的情况算，未做有限总体校正。"),
        weighting_line,
        ("随机样本：只有通过随机发放的一次性问卷票（“问卷票”渠道）收回的问卷是居民的随机样本；扫码、坝坝会、纸质"
         "和导入的问卷不是随机抽样，它们的区间描述的是回答了问卷的人，不一定代表全社区。"),
    ]
    if summary["channels"]:
        lines.append("各渠道的有效问卷：" + "，".join(f"{c['name']} {c['respondents']} 份" for c in summary["channels"])
                     + "。")
    story += [_p(line) for line in lines]
    return story


def _margin(n: int, confidence: float) -> str:
    value = margin_of_error(n, None, confidence=confidence)
    return "—" if value is None else f"±{value * 100:.1f}%"


# -- the campaign report ----------------------------------------------------------------


def _item_rate_table(item: dict, groups: list[dict], total: dict | None, label: str = "社区") -> list:
    satisfied, off = satisfied_labels(item)
    off_header = "/".join(off) if off else "不在量表上"
    rows = [[label, "有效 n", _short(off_header, 8), "满意率", "区间"]]
    for group in groups:
        rows.append([_cell(group["name"]), group["n_valid"], group["off_scale"], percent(group["satisfaction_rate"]),
                     interval_text(group["rate_interval"])])
    if total is not None:
        rows.append(["全部社区", total["n_valid"], total["off_scale"], percent(total["satisfaction_rate"]),
                     interval_text(total["rate_interval"])])
    table = _table(rows, [WIDTH - 118 * mm, 20 * mm, 24 * mm, 24 * mm, 50 * mm], total_row=total is not None)
    note = (f"计为“满意”的回答：{_quoted(satisfied)}。有效 n = 答在量表上的人数（满意率的分母）；"
            f"{off_header} 的人数不计入分母。")
    return [KeepTogether([_p(item["text"], SUBHEADING), table]), _p(note, NOTE)]


def _drivers_section(campaign: Campaign, number: str, *, fix_first_only: bool = False,
                     community: Region | None = None) -> list:
    """The driver analysis of the whole campaign, or of ``community``'s responses only."""
    story = [_p(f"{number}、影响总体满意度的因素（重要性—表现分析）", HEADING)]
    try:
        result = analyses.driver_analysis(campaign, None if community is None else community.id)
    except analyses.AnalysisError:
        return story + [_p("这份问卷没有标明“总体满意度”题（或标了不止一道），无法做这项分析，本节从略。")]
    texts = {item["key"]: item["text"] for item in result["items"]}
    fix_first = [texts[key] for key in result["fix_first"]]
    story.append(_p(f"总体满意度题：{result['overall']['text']}（回答在量表上的 {result['overall']['n_valid']} 人）。"
                    "重要性 = 这道题与总体满意度的 Spearman 秩相关系数（同时回答了两题的人）；表现 = 这道题的满意率；"
                    "以各题重要性和表现的中位数为界分为四个区。"
                    + ("全部社区合计。" if community is None else f"只算{community.name}的问卷。")))
    story.append(_p("优先改进（重点改进区，重要性高而满意率低，按重要性从高到低）："
                    + ("；".join(fix_first) if fix_first else "没有题目落在这个区。")))
    if fix_first_only:
        return story
    rows = [["题目", "重要性 ρ", "同时回答 n", "满意率", "有效 n", "所在区"]]
    for item in result["items"]:
        rows.append([_cell(item["text"]), "—" if item["importance"] is None else f"{item['importance']:.2f}",
                     item["n_both"], percent(item["satisfaction_rate"]), item["n_valid"],
                     item["quadrant_label"] or "—"])
    story.append(_table(rows, [WIDTH - 110 * mm, 20 * mm, 22 * mm, 20 * mm, 18 * mm, 30 * mm]))
    return story


def _score_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _ranking_section(campaign: Campaign, schemes: Sequence[Scheme], number: str, community_id: int | None = None
                     ) -> list:
    story = [_p(f"{number}、评分与排名", HEADING)]
    if not schemes:
        return story + [_p("本次测评的问卷没有可用的评分方案。")]
    for scheme in schemes:
        try:
            result = scoring.campaign_scores(campaign, scheme)
        except FillInError as e:
            story.append(_p(f"评分方案“{scheme.title}”：区里填入的分值或权重与方案对不上（{'；'.join(e.messages)}），"
                            "暂不能计分。"))
            continue
        unit = "百分制" if result["score_unit"] == "percent" else "分"
        story.append(_p(f"评分方案：{result['scheme']['title']}（总分单位：{unit}；{'已定稿' if result['locked_at'] else '未定稿'}）",
                        SUBHEADING))
        if not result["ranked"]:
            # A table of dashes for every community says nothing: one line instead.
            story.append(_p("还没有社区算出总分（缺考评人员的评分或问卷回答），暂无排名。"))
            continue
        rows = [["排名", "排名范围", "社区", "有效问卷", "总分", f"总分 {level_text(result['confidence'])} 区间"]]
        shown = [c for c in result["communities"] if community_id is None or c["id"] == community_id]
        for c in shown:
            ranks, interval = c["rank_interval"], c["score_interval"]
            rows.append([c["rank"] or "—", "—" if ranks is None else f"{ranks['low']}–{ranks['high']}",
                         _cell(c["name"]), c["respondents"], _score_text(c["score"]),
                         "—" if interval is None else f"{_score_text(interval['low'])}–{_score_text(interval['high'])}"])
        story.append(_table(rows, [14 * mm, 22 * mm, WIDTH - 124 * mm, 20 * mm, 22 * mm, 46 * mm], numeric_from=3))
        story.append(_p(f"共 {result['ranked']} 个社区参加排名。总分区间和排名范围按居民重抽 {result['replicates']} 次"
                        f"得出（随机数种子 {result['seed']}：同样的数据再算一次，结果完全相同），"
                        "只反映问卷抽样的不确定性，考评人员录入的分数按录入值计算；"
                        "排名范围重叠的社区，这次调查分不出高低。", NOTE))
    return story


def campaign_report(campaign: Campaign, *, author: str, reads_responses: bool,
                    schemes: Sequence[Scheme] | None = None, now: datetime | None = None,
                    include_flagged: bool = False) -> bytes:
    """The campaign's report as PDF bytes: every community side by side, for a reader who reads
    every community of the campaign.

    ``author`` is the display name of who asked for it; ``reads_responses`` whether the reader may
    read single responses (else the exclusion reasons are left out, only their number is said);
    ``schemes`` the scoring schemes whose scores and ranking the reader may see (None: they may
    not, and the section is left out). Flagged responses are left out unless ``include_flagged``,
    as on the dashboard.
    """
    now = now or utcnow()
    which = ResponseFilter(include_flagged=include_flagged)
    summary = campaign_summary(campaign, "community", which)
    whole = campaign_summary(campaign, "campaign", which)
    counts = {c["community_id"]: c for c in response_counts(campaign.id)}
    excluded = exclusions(campaign.id)
    received = sum(c["responses"] for c in counts.values())
    with_margins = db.session.scalar(sa.select(sa.func.count(sa.distinct(PopulationMargin.community_id)))
                                     .where(PopulationMargin.campaign_id == campaign.id))
    weighting_line = ("加权：本报告的数字都未加权。" + (
        f"{with_margins} 个社区录入了人口结构（年龄段、性别），按人口结构加权的结果见这些社区各自的报告。"
        if with_margins else "没有社区录入人口结构，因此没有做加权。"))

    story = _title_block(campaign, f"{campaign.name} 测评报告", author, now,
                         [["范围", f"{len(summary['groups'])} 个社区"]])
    if summary["respondents"] == 0:
        story.append(_p("本次测评还没有计入统计的问卷，以下各表的满意率都是空的（记作“—”）。"))
    story += _method_note(campaign, summary, received, excluded, flagged_counted(campaign.id), weighting_line,
                          include_flagged, reads_responses)

    rows = [["社区", "收到", "不计入", "有效 n", "目标", "完成", "误差范围"]]
    for group in summary["groups"]:
        got = counts.get(group["key"], {})
        target = group["target"]
        rows.append([_cell(group["name"]), got.get("responses", group["respondents"]),
                     got.get("responses", group["respondents"]) - group["respondents"], group["respondents"],
                     "—" if target is None else target,
                     percent(group["respondents"] / target) if target else "—",
                     _margin(group["respondents"], campaign.confidence)])
    total_target = sum(g["target"] or 0 for g in summary["groups"])
    rows.append(["合计", received, received - summary["respondents"], summary["respondents"], total_target or "—",
                 percent(summary["respondents"] / total_target) if total_target else "—",
                 _margin(summary["respondents"], campaign.confidence)])
    story += [_p("各社区样本", SUBHEADING),
              _table(rows, [WIDTH - 128 * mm, 18 * mm, 18 * mm, 18 * mm, 18 * mm, 20 * mm, 36 * mm], total_row=True),
              _p("收到 = 全部问卷；不计入 = 被排除的问卷" + ("" if include_flagged else "和可疑问卷")
                 + "；有效 n = 计入统计的问卷（收到 − 不计入）；完成 = 有效 n ÷ 目标。", NOTE)]

    story.append(_p("二、各社区满意率", HEADING))
    if not summary["items"]:
        story.append(_p("这份问卷没有量表题，没有满意率。"))
    totals = {item["key"]: item["groups"][0] for item in whole["items"]}
    for item in summary["items"]:
        story += _item_rate_table(item, item["groups"], totals.get(item["key"]))

    story.append(_p("三、图", HEADING))
    headline = headline_item(summary, campaign)
    if headline is None or summary["respondents"] == 0:
        story.append(_p("还没有回答，无法作图。"))
    else:
        total = totals[headline["key"]]
        rows = [{"label": g["name"], "rate": g["satisfaction_rate"], "interval": g["rate_interval"],
                 "n": g["n_valid"], "reference": total["satisfaction_rate"]} for g in headline["groups"]]
        story += whisker_charts(f"图 1　各社区“{_short(headline['text'], 24)}”的满意率与 {level_text(campaign.confidence)} 区间",
                                rows, reference_label=f"全部社区合计 {percent(total['satisfaction_rate'])}")
        story.append(Spacer(1, 10))
        labels, values = _distribution(headline, total)
        story.append(distribution_chart(f"图 2　“{_short(headline['text'], 24)}”各回答的人数（全部社区，有效 n = "
                                        f"{total['n_valid']}）", labels, values))

    story += _drivers_section(campaign, "四")
    if schemes is not None:
        story += _ranking_section(campaign, schemes, "五")
    footer = f"{campaign.name}　生成时间 {local_time(now)}"
    return _build(story, f"{campaign.name} 测评报告", footer, author)


# -- the community report ---------------------------------------------------------------

#: The comparison column of a community report: every community of the campaign, or (for an account that
#: reads only some of them, a street's) the communities the account reads.
ALL_COMMUNITIES = "全部社区"
OWN_COMMUNITIES = "所辖社区"


def _distribution_table(item: dict, mine: dict, total: dict | None, label: str | None) -> list:
    """An item's answers in the community, beside ``label``'s (the comparison) when ``total`` is given."""
    satisfied, _off = satisfied_labels(item)
    both = total is not None
    other = total if both else mine

    def row(first, a, b, c, d) -> list:
        return [first, a, b, c, d] if both else [first, a, b]

    rows = [row("回答", "本社区人数", "本社区占比", f"{label}人数", f"{label}占比")]
    for level, a, b in zip(item["scale"]["levels"], mine["distribution"], other["distribution"]):
        rows.append(row(level["label"], a["count"], percent(a["share"]), b["count"], percent(b["share"])))
    for c in item["scale"]["off_scale"]:
        rows.append(row(f"{c['label']}（不计入分母）", mine["off_scale_counts"].get(c["code"], 0), "—",
                        other["off_scale_counts"].get(c["code"], 0), "—"))
    rows.append(row("未回答此题", mine["missing"], "—", other["missing"], "—"))
    rows.append(row("有效 n", mine["n_valid"], "", other["n_valid"], ""))
    rows.append(row("满意率", "", percent(mine["satisfaction_rate"]), "", percent(other["satisfaction_rate"])))
    rows.append(row("区间", "", interval_text(mine["rate_interval"]), "", interval_text(other["rate_interval"])))
    widths = [WIDTH - 120 * mm, 22 * mm, 38 * mm, 24 * mm, 36 * mm] if both else [WIDTH - 60 * mm, 22 * mm, 38 * mm]
    note = f"计为“满意”的回答：{_quoted(satisfied)}。占比 = 人数 ÷ 有效 n。"
    return [KeepTogether([_p(item["text"], SUBHEADING), _table(rows, widths)]), _p(note, NOTE)]


def _rate(estimate: dict | None) -> str:
    return "—" if estimate is None else percent(estimate["estimate"])


def _estimate_interval(estimate: dict | None) -> str:
    return "—" if estimate is None else interval_text(estimate["interval"])


def _weighted_responses(campaign_id: int, community_id: int, respondents: int, include_flagged: bool) -> str:
    """Which of the community's responses the weighting counted, in words: the weighting module decides
    (its ``respondents``), this only says it, and whether that differs from the other sections."""
    not_excluded = db.session.scalar(sa.select(sa.func.count()).select_from(Response).where(
        Response.campaign_id == campaign_id, Response.community_id == community_id,
        Response.exclusion_reason.is_(None)))
    flagged = flagged_counted(campaign_id, [community_id])
    if flagged == 0:
        return f"本社区没有被排除的 {respondents} 份问卷（本社区没有可疑问卷）"
    if respondents == not_excluded - flagged:
        return (f"本社区没有被排除、也没有质量提示的 {respondents} 份问卷，{flagged} 份可疑问卷不计入"
                + ("（与上面各节一样）" if not include_flagged else "（上面各节这次计入了可疑问卷，本节没有）"))
    if respondents == not_excluded:
        return (f"本社区没有被排除的 {respondents} 份问卷，含 {flagged} 份可疑问卷"
                + ("（与上面各节一样）" if include_flagged else "（上面各节没有计入可疑问卷，本节计入了）"))
    return f"本社区的 {respondents} 份问卷"


def _weighting_section(campaign: Campaign, community_id: int, number: str, include_flagged: bool) -> list:
    """Unweighted and weighted figures side by side, both from weighting.community_weighted: the two
    columns describe the same respondents, with intervals of the same kind."""
    story = [_p(f"{number}、按人口结构加权", HEADING)]
    result = weighting.community_weighted(campaign, community_id)
    status = result["weighting"]
    if status["status"] == "no_margins":
        return story + [_p("这个社区没有录入人口结构（年龄段、性别），没有做加权；本报告的数字都未加权。")]
    if status["status"] != "weighted":
        return story + [_p(f"录入了人口结构，但没有做加权：{status['message']}。本报告的数字都未加权。")]
    names = {"age_band": "年龄段", "sex": "性别"}
    story.append(_p(f"按{'、'.join(names[v] for v in status['variables'])}把受访者加权到社区的人口结构（迭代比例拟合）。"
                    f"参加加权的受访者 {status['weighted_respondents']} 人；没填{'或'.join(names[v] for v in status['variables'])}"
                    f"的 {status['unweighted_out']} 人不参加加权，只在不加权的数字里。加权区间是 t 区间（线性化标准误），"
                    "有效样本量是 Kish 的 (Σw)²/Σw²。加权只校正样本的年龄、性别构成，校正不了谁愿意回答。"))
    rows = [["题目", "不加权 n", "不加权满意率", "不加权区间", "加权 n", "加权满意率", "加权区间", "有效样本量"]]
    for item in result["items"]:
        plain = item["unweighted"]["satisfaction_rate"]
        weighted = (item["weighted"] or {}).get("satisfaction_rate")
        rows.append([_cell(item["text"]), item["unweighted"]["n"], _rate(plain), _estimate_interval(plain),
                     (item["weighted"] or {}).get("n", "—"), _rate(weighted), _estimate_interval(weighted),
                     f"{weighted['effective_n']:.1f}" if weighted and weighted["effective_n"] is not None else "—"])
    story.append(_table(rows, [WIDTH - 146 * mm, 14 * mm, 18 * mm, 26 * mm, 14 * mm, 18 * mm, 26 * mm, 18 * mm]))
    which = _weighted_responses(campaign.id, community_id, result["respondents"], include_flagged)
    story.append(_p(f"本表两列按同一批问卷计算：{which}。n = 回答此题且答在量表上的人数，加权 n 只算参加加权的受访者。"
                    "两列的区间都是 t 区间（线性化标准误），因此不加权区间与第二节的 Wilson 区间略有不同。", NOTE))
    return story


def community_report(campaign: Campaign, community_id: int, *, author: str, community_ids: Collection[int],
                     covers_all: bool, reads_responses: bool, schemes: Sequence[Scheme] | None = None,
                     now: datetime | None = None, include_flagged: bool = False) -> bytes:
    """One community's report as PDF bytes: its figures beside those of the communities the reader reads.

    ``community_ids`` are the campaign's communities the reader may read (``community_id`` among
    them), ``covers_all`` whether that is every community of the campaign: the comparison column
    and the driver analysis cover the whole campaign only then (otherwise the comparison is the
    reader's communities, none when that is this community alone, and the drivers are the
    community's own). ``reads_responses``, ``schemes`` and ``include_flagged`` as for
    campaign_report (None: no scores shown)."""
    readable = frozenset(community_ids)
    if community_id not in readable:
        raise ValueError(f"community {community_id} is not among the reader's communities")
    now = now or utcnow()
    community = db.session.get(Region, community_id)
    summary = campaign_summary(campaign, "community",
                               ResponseFilter(community_ids=frozenset({community_id}), include_flagged=include_flagged))
    if covers_all:
        label, compared = ALL_COMMUNITIES, ResponseFilter(include_flagged=include_flagged)
    elif readable != {community_id}:
        label, compared = OWN_COMMUNITIES, ResponseFilter(community_ids=readable, include_flagged=include_flagged)
    else:
        label, compared = None, None
    whole = None if compared is None else campaign_summary(campaign, "campaign", compared)
    group = next(g for g in summary["groups"] if g["key"] == community_id)
    counts = next((c for c in response_counts(campaign.id) if c["community_id"] == community_id), None)
    excluded = exclusions(campaign.id, [community_id])
    received = counts["responses"] if counts else group["respondents"]
    title = f"{community.name} 测评报告"

    story = _title_block(campaign, title, author, now, [["社区", f"{community.name}（{community.code}）"]])
    if group["respondents"] == 0:
        story.append(_p("这个社区还没有计入统计的问卷，以下各表的满意率都是空的（记作“—”）。"))
    # The summary counts this community only: its respondents and channels are the community's.
    story += _method_note(campaign, {**summary, "respondents": group["respondents"]}, received, excluded,
                          flagged_counted(campaign.id, [community_id]),
                          "加权：第二、三节的数字未加权；按人口结构加权的结果见第四节。", include_flagged, reads_responses)
    target = group["target"]
    rows = [["社区", "收到", "不计入", "有效 n", "目标", "完成", "误差范围"],
            [_cell(community.name), received, received - group["respondents"], group["respondents"],
             "—" if target is None else target, percent(group["respondents"] / target) if target else "—",
             _margin(group["respondents"], campaign.confidence)]]
    story.append(_table(rows, [WIDTH - 128 * mm, 18 * mm, 18 * mm, 18 * mm, 18 * mm, 20 * mm, 36 * mm]))
    if label == OWN_COMMUNITIES:
        story.append(_p(f"下面各表的“{OWN_COMMUNITIES}”是您的账号管辖的、参加本次测评的 {len(readable)} 个社区合计"
                        "（不含本次测评的其他社区）。", NOTE))
    elif label is None:
        story.append(_p("您的账号只管辖这一个社区，下面各表只列本社区的数字，不与其他社区比较。", NOTE))

    totals = {} if whole is None else {item["key"]: item["groups"][0] for item in whole["items"]}
    position = summary["groups"].index(group)
    mine = {item["key"]: item["groups"][position] for item in summary["items"]}

    story.append(_p("二、各题的回答与满意率", HEADING))
    if not summary["items"]:
        story.append(_p("这份问卷没有量表题，没有满意率。"))
    for item in summary["items"]:
        story += _distribution_table(item, mine[item["key"]], totals.get(item["key"]), label)

    story.append(_p("三、图", HEADING))
    headline = headline_item(summary, campaign)
    if headline is None or group["respondents"] == 0:
        story.append(_p("这个社区还没有回答，无法作图。"))
    else:
        rows = [{"label": item["text"], "rate": mine[item["key"]]["satisfaction_rate"],
                 "interval": mine[item["key"]]["rate_interval"], "n": mine[item["key"]]["n_valid"],
                 "reference": totals[item["key"]]["satisfaction_rate"] if totals else None}
                for item in summary["items"]]
        story += whisker_charts(f"图 1　{community.name}各题的满意率与 {level_text(campaign.confidence)} 区间", rows,
                                reference_label=f"{label}合计的满意率" if label else None)
        story.append(Spacer(1, 10))
        labels, values = _distribution(headline, mine[headline["key"]])
        story.append(distribution_chart(f"图 2　“{_short(headline['text'], 24)}”各回答的人数（{community.name}，有效 n = "
                                        f"{mine[headline['key']]['n_valid']}）", labels, values))

    story += _weighting_section(campaign, community_id, "四", include_flagged)
    story += _drivers_section(campaign, "五", fix_first_only=True, community=None if covers_all else community)
    if schemes is not None and covers_all:  # a rank places the community among all of them
        story += _ranking_section(campaign, schemes, "六", community_id)
    footer = f"{campaign.name} · {community.name}　生成时间 {local_time(now)}"
    return _build(story, title, footer, author)


def community_name(community_id: int) -> str:
    return db.session.get(Region, community_id).name
