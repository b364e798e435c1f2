"""The campaign dashboard: district → street → community → its points and channels."""

from __future__ import annotations

from flask import abort, current_app, render_template, request, url_for
from flask_login import current_user, login_required

from ..analysis.reliability import Quadrant
from ..definitions.schemes import FillInError
from ..evaluation import dashboard as boards
from ..evaluation import scores as scoring
from . import bp, charts
from .access import ReadScope, read_scope


def _id_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**31:
        abort(400, f"{name} must be a region id; got {raw!r}" if request.path.startswith("/api/")
              else "网址里的街道或社区编号不对。")
    return int(raw)


def _flag(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw not in ("", "0", "1", "true", "false", "on", "yes", "no"):
        abort(400, f"{name} must be true or false; got {request.args[name]!r}" if request.path.startswith("/api/")
              else "网址里的选项不对。")
    return raw in ("1", "true", "on", "yes")


def build_dashboard(scope: ReadScope) -> dict:
    """The dashboard the request asks for: the page and the API call this, so both show the same figures."""
    campaign = scope.campaign
    try:
        drill = boards.locate(campaign, scope.community_ids, _id_arg("street"), _id_arg("community"))
        result = boards.campaign_dashboard(
            campaign, scope.community_ids, drill, item_key=request.args.get("item") or None,
            include_flagged=_flag("include_flagged"), include_excluded=_flag("include_excluded"))
    except boards.DashboardError as e:
        abort(e.status, e.message_en if request.path.startswith("/api/") else e.message)
    boards.add_drivers(result, campaign, drill, scope.covers_all)
    boards.add_ranking(result, _scores(scope, drill))
    return result


def _scores(scope: ReadScope, drill: boards.Drill) -> dict | None:
    """The ranking of the chosen scheme, for those who may read scores (evaluators, the district)."""
    if not (current_user.role.may_score and scope.covers_all):
        return None
    # The schemes written for this questionnaire first, those fed by evaluators alone after them.
    available = sorted(scoring.schemes_for(scope.campaign, current_app.config["SURVEYS_DIR"]),
                       key=lambda s: s.questionnaire is None)
    wanted = request.args.get("scheme") or None
    scheme = next((s for s in available if s.id == wanted), None) if wanted else (available[0] if available else None)
    if wanted and scheme is None:
        abort(400, f"scheme must be one of {', '.join(s.id for s in available)}; got {wanted!r}"
              if request.path.startswith("/api/") else "没有这个评分方案。")
    if scheme is None:
        return None
    try:
        return scoring.campaign_scores(scope.campaign, scheme)
    except FillInError:
        return None


def _trace(trace: dict) -> str:
    return f"n = {trace['n']}；{trace['filter']}；{trace['formula']}"


def _drill_url(campaign_id: int, **kwargs) -> str:
    keep = {k: request.args[k] for k in ("item", "include_flagged", "include_excluded", "scheme")
            if request.args.get(k)}
    return url_for("evaluators.dashboard", campaign_id=campaign_id, **keep, **kwargs)


def dashboard_charts(board: dict) -> dict:
    """The SVG charts of a dashboard."""
    campaign_id = board["campaign_id"]
    out = {}
    counts = board["counts"]["rows"]
    if counts:
        out["counts"] = charts.target_bars(
            [charts.Bar(r["name"], r["in_figures"], r["target"], f"{r['name']}：{r['in_figures']} 份。{_trace(r['trace'])}",
                        _drill_url(campaign_id, **({r["level"]: r["key"]} if r["level"] in ("street", "community")
                                                   else {})) if r["level"] in ("street", "community") else None)
             for r in counts], label="各单位计入的问卷数和目标份数")
    rates = board["rates"]
    if rates:
        weakest = {w["key"] for w in board["weakest"]}
        rows = [charts.Whisker(g["name"], g["rate"], *(g["interval"] or {"low": None, "high": None}).values(),
                               title=f"{g['name']} {rates['item']['rate_name']} {_pct(g['rate'])}。{_trace(g['trace'])}",
                               href=_drill_url(campaign_id, community=g["key"]) if g["level"] == "community" else None,
                               emphasis=g["key"] in weakest)
                for g in sorted(rates["groups"], key=lambda g: (g["rate"] is None, -(g["rate"] or 0)))]
        overall = rates["overall"]
        out["rates"] = charts.whisker_chart(
            rows, label=f"{rates['item']['text']}：各单位{rates['item']['rate_name']}和范围", reference=overall["rate"],
            reference_label=f"合计{rates['item']['rate_name']} {_pct(overall['rate'])}。{_trace(overall['trace'])}")
    ranking = board.get("ranking")
    if ranking and ranking["communities"] and board["level"] != "community":
        ranked = [c for c in ranking["communities"] if c["rank"] is not None]
        if ranked:
            out["ranking"] = charts.whisker_chart(
                [charts.Whisker(c["name"], c["rank"], c["rank_interval"]["low"], c["rank_interval"]["high"],
                                title=f"{c['name']} 第 {c['rank']} 名，排名范围第 {c['rank_interval']['low']}–"
                                      f"{c['rank_interval']['high']} 名。{_trace(c['trace'])}",
                                href=_drill_url(campaign_id, community=c["id"]))
                 for c in ranked], label="排名和排名范围", low=1, high=max(ranking["ranked"], 2), percent=False,
                reverse=True)
    drivers = board.get("drivers")
    if drivers and "items" in drivers:
        fix = set(drivers["fix_first"])
        points = [charts.Point(i["text"], i["importance"], i["performance"],
                               f"{i['text']}：重要性 {i['importance']:.2f}，满意率 {_pct(i['performance'])}"
                               f"（{i['n_valid']} 人回答）。{i['quadrant_label'] or ''}", i["key"] in fix)
                  for i in drivers["items"] if i["importance"] is not None and i["performance"] is not None]
        if points:
            out["drivers"] = charts.quadrant_chart(
                points, x_cut=drivers["cuts"]["importance"], y_cut=drivers["cuts"]["performance"],
                label="重要性和表现", x_label="越影响总体满意度", y_label="满意率越高",
                quadrant_labels=tuple(q.label for q in (Quadrant.POSSIBLE_OVERKILL, Quadrant.KEEP_UP,
                                                        Quadrant.LOW_PRIORITY, Quadrant.FIX_FIRST)))
    out["items"] = {}
    for item in board["items"]:
        if "options" not in item or not item["n"]:
            continue
        if item["type"] == "likert":
            colours = charts.level_colours(item["levels"], len(item["options"]) - item["levels"])
        else:
            colours = [charts.CHOICE_COLOURS[k % len(charts.CHOICE_COLOURS)] for k in range(len(item["options"]))]
        segments = [charts.Segment(o["label"], o["share"] or 0, f"{o['label']}：{o['count']} 人，{_pct(o['share'])}。"
                                   f"{_trace(o['trace'])}", colour) for o, colour in zip(item["options"], colours)]
        if item["type"] == "multiple":
            out["items"][item["key"]] = charts.whisker_chart(
                [charts.Whisker(o["label"], o["share"], None, None, s.title) for o, s in zip(item["options"], segments)],
                label=item["text"])
        else:
            out["items"][item["key"]] = charts.stacked_bar(segments, label=item["text"])
    return out


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


@bp.get("/campaigns/<int:campaign_id>/dashboard")
@login_required
def dashboard(campaign_id: int):
    scope = read_scope(campaign_id)
    board = build_dashboard(scope)
    return render_template("evaluators/dashboard.html", campaign=scope.campaign, board=board,
                           charts=dashboard_charts(board), scope=scope, drill_url=_drill_url)
