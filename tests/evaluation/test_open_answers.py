"""The free-text answers of a campaign: the list (search, filters, paging, excluded responses), the
word counts per community, and who may read which, through the API and the page."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa

from app.analysis.word_frequency import count_words
from app.evaluation import open_answers
from app.extensions import db
from app.models import Channel, RegionLevel, Response, Role
from app.staff.operations import add_region, exclude_response
from app.submissions import NewResponse, store_response
from app.templating import LOCAL_TZ
from tests.conftest import SMALL_SURVEY

#: community | channel | submitted (China time) | excluded | the resident's advice
ANSWERS = """
A | qr      | 2026-03-01 09:00 | no  | 停车位太少了，停车难。
A | ticket  | 2026-03-02 10:00 | no  | 路灯坏了，晚上太黑。
A | qr      | 2026-03-03 23:30 | no  | 希望多组织老年人活动。
A | paper   | 2026-03-04 00:30 | no  | 100%满意
A | qr      | 2026-03-05 12:00 | no  | 打分_测试
B | qr      | 2026-03-04 08:00 | no  | 停车位不够，路灯也坏了。
B | meeting | 2026-03-06 18:00 | no  | WiFi 信号差，停车位也不够
C | qr      | 2026-03-07 11:00 | yes | 停车位太少，乱停车
C | qr      | 2026-03-08 11:00 | no  | 电梯经常坏
"""


def parse(table: str) -> list[dict]:
    rows = []
    for line in table.strip().splitlines():
        community, channel, when, excluded, text = (part.strip() for part in line.split("|"))
        rows.append({"community": community, "channel": Channel(channel), "text": text, "excluded": excluded == "yes",
                     "at": datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=LOCAL_TZ)})
    return rows


def store(campaign, community, channel: Channel, at: datetime, text: str | None, *, excluded: bool = False,
          sat: str = "4") -> None:
    answers = [("sat", (sat, None, None))] + ([("advice", ("", None, text))] if text else [])
    submission = uuid.uuid4().hex
    store_response(NewResponse(campaign_id=campaign.id, community_id=community.id, channel=channel,
                               submission_id=submission, submitted_at=at, answers=answers))
    if excluded:
        exclude_response(db.session.scalar(sa.select(Response).where(Response.submission_id == submission)), "重复填写")
        db.session.commit()


@pytest.fixture
def world(make):
    """Communities A and B in one street, C in another street of the same district; a campaign of
    the small survey (its free-text item is ``advice``) with the answers above, and one response
    without advice."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    c = make.community(name="丙社区", street=add_region("S-other", "另一街道", RegionLevel.STREET, a.parent.parent))
    communities = {"A": a, "B": b, "C": c}
    campaign = make.campaign(communities=[a, b, c], one_per_device=False)
    db.session.commit()
    for row in parse(ANSWERS):
        store(campaign, communities[row["community"]], row["channel"], row["at"], row["text"],
              excluded=row["excluded"])
    store(campaign, a, Channel.QR, datetime(2026, 3, 9, 9, tzinfo=LOCAL_TZ), None)
    return campaign, communities


def url(campaign, suffix: str = "", **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/campaigns/{campaign.id}/open-answers{suffix}" + (f"?{query}" if query else "")


def texts(body: dict) -> list[str]:
    return [a["text"] for a in body["answers"]]


@pytest.fixture
def evaluator(world, logged_in):
    _, communities = world
    return logged_in(communities["A"].parent.parent)


def test_the_list_is_newest_first_with_everything_a_row_needs(world, evaluator):
    campaign, communities = world
    body = evaluator.get(url(campaign)).get_json()
    counted = [r for r in parse(ANSWERS) if not r["excluded"]]
    assert body["total"] == len(counted) == 8
    assert texts(body) == [r["text"] for r in sorted(counted, key=lambda r: r["at"], reverse=True)]
    assert body["include_excluded"] is False and body["excluded"] == 1 and body["excluded_note"]
    first = body["answers"][0]
    assert first["item"] == "advice" and first["question"] == "您还有什么建议？"
    assert (first["community"], first["community_id"]) == ("丙社区", communities["C"].id)
    assert (first["channel"], first["channel_label"]) == ("qr", "扫码")
    assert first["submitted_on"] == "2026-03-08"
    response = db.session.get(Response, first["response_id"])
    assert response.community_id == communities["C"].id
    assert body["items"] == [{"key": "advice", "text": "您还有什么建议？"}]
    # A China-time date: 00:30 on 4 March is still 3 March in UTC.
    paper = next(a for a in body["answers"] if a["channel"] == "paper")
    assert paper["submitted_on"] == "2026-03-04" and paper["submitted_at"].startswith("2026-03-03T16:30")


@pytest.mark.parametrize(("q", "expected"), [
    ("停车位", ["WiFi 信号差，停车位也不够", "停车位不够，路灯也坏了。", "停车位太少了，停车难。"]),
    ("%", ["100%满意"]),            # a literal percent sign, not "anything"
    ("_", ["打分_测试"]),           # a literal underscore, not "any one character"
    ("0%满", ["100%满意"]),
    ("停_位", []),
    ("wifi", ["WiFi 信号差，停车位也不够"]),  # case does not matter
    ("  路灯  ", ["停车位不够，路灯也坏了。", "路灯坏了，晚上太黑。"]),
    ("没有人写过", []),
])
def test_search_is_a_literal_substring(world, evaluator, q, expected):
    campaign, _ = world
    body = evaluator.get(url(campaign), query_string={"q": q}).get_json()
    assert texts(body) == expected
    assert body["total"] == len(expected)


def test_filters(world, evaluator):
    campaign, communities = world
    b = communities["B"].id
    assert texts(evaluator.get(url(campaign, community=b)).get_json()) == [
        "WiFi 信号差，停车位也不够", "停车位不够，路灯也坏了。"]
    assert texts(evaluator.get(url(campaign, channel="ticket")).get_json()) == ["路灯坏了，晚上太黑。"]
    assert texts(evaluator.get(url(campaign, item="advice", channel="meeting")).get_json()) == [
        "WiFi 信号差，停车位也不够"]
    # Dates are China days, both ends included: 3 March 23:30 is in, 4 March 00:30 is not.
    assert texts(evaluator.get(url(campaign, since="2026-03-02", until="2026-03-03")).get_json()) == [
        "希望多组织老年人活动。", "路灯坏了，晚上太黑。"]
    assert texts(evaluator.get(url(campaign, since="2026-03-08")).get_json()) == ["电梯经常坏"]
    assert texts(evaluator.get(url(campaign, until="2026-03-01")).get_json()) == ["停车位太少了，停车难。"]
    assert texts(evaluator.get(url(campaign, community=b, q="WiFi", channel="qr")).get_json()) == []


def test_excluded_answers_only_on_request_and_marked(world, evaluator):
    campaign, communities = world
    c = communities["C"].id
    left_out = evaluator.get(url(campaign, community=c)).get_json()
    assert texts(left_out) == ["电梯经常坏"] and left_out["excluded"] == 1
    both = evaluator.get(url(campaign, community=c, include_excluded="true")).get_json()
    assert texts(both) == ["电梯经常坏", "停车位太少，乱停车"]
    assert [a["excluded"] for a in both["answers"]] == [False, True]
    assert both["answers"][1]["exclusion_reason"] == "重复填写"
    assert both["total"] == 2 and both["excluded_note"] is None


def test_paging(make, logged_in):
    community = make.community()
    campaign = make.campaign(communities=[community], one_per_device=False)
    db.session.commit()
    for i in range(123):
        store(campaign, community, Channel.QR, datetime(2026, 4, 1 + i // 24, i % 24, tzinfo=LOCAL_TZ), f"第{i}条建议")
    client = logged_in(community.parent.parent)
    pages = [client.get(url(campaign, page=p)).get_json() for p in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [123] * 4
    assert [p["pages"] for p in pages] == [3] * 4
    assert [len(p["answers"]) for p in pages] == [50, 50, 23, 0]
    listed = [t for p in pages for t in texts(p)]
    assert listed == [f"第{i}条建议" for i in reversed(range(123))]
    searched = client.get(url(campaign, q="第1")).get_json()  # 第1, 第10–19, 第100–122
    assert (searched["total"], searched["pages"]) == (1 + 10 + 23, 1)
    assert texts(searched) == [f"第{i}条建议" for i in reversed(range(123)) if str(i).startswith("1")]


def test_word_counts_per_community_and_for_the_scope(world, evaluator):
    campaign, communities = world
    body = evaluator.get(url(campaign, "/words")).get_json()
    counted = [r for r in parse(ANSWERS) if not r["excluded"]]
    by_name = {c["name"]: c for c in body["communities"]}
    assert set(by_name) == {"甲社区", "乙社区", "丙社区"}
    for name, key in (("甲社区", "A"), ("乙社区", "B"), ("丙社区", "C")):
        mine = [r["text"] for r in counted if r["community"] == key]
        reference = count_words(mine)
        assert by_name[name]["answers"] == len(mine)
        assert [(w["word"], w["count"], w["answers"]) for w in by_name[name]["words"]] == \
            [(w.word, w.count, w.answers) for w in reference.words]
    # By hand for B: 停车位不够，路灯也坏了 / WiFi 信号差，停车位也不够.
    b = {w["word"]: (w["count"], w["answers"]) for w in by_name["乙社区"]["words"]}
    assert b == {"停车位": (2, 2), "不够": (2, 2), "路灯": (1, 1), "坏": (1, 1), "wifi": (1, 1), "信号": (1, 1),
                 "差": (1, 1)}
    scope = {w["word"]: (w["count"], w["answers"]) for w in body["scope"]["words"]}
    assert body["scope"]["answers"] == 8
    assert scope["停车位"] == (3, 3)  # the excluded 停车位太少，乱停车 is left out
    assert scope["路灯"] == (2, 2)
    assert body["scope"]["words"][0]["word"] == "停车位"
    assert body["scope"]["words"][0]["share"] == pytest.approx(3 / 8)
    assert "社区" not in scope and "希望" not in scope and "了" not in scope
    with_excluded = evaluator.get(url(campaign, "/words", include_excluded="true")).get_json()
    assert {w["word"]: w["count"] for w in with_excluded["scope"]["words"]}["停车位"] == 4
    one = evaluator.get(url(campaign, "/words", community=communities["B"].id, top=2)).get_json()
    assert [c["name"] for c in one["communities"]] == ["乙社区"]
    assert [w["word"] for w in one["scope"]["words"]] == ["不够", "停车位"]
    assert one["min_answers"] == 1


# -- who may read what --------------------------------------------------------------------------


def test_not_logged_in_is_401_json(world, client):
    campaign, _ = world
    for suffix in ("", "/words"):
        answer = client.get(url(campaign, suffix))
        assert answer.status_code == 401
        assert answer.get_json()["error"]["status"] == 401
    page = client.get(f"/evaluate/campaigns/{campaign.id}/open-answers")
    assert page.status_code in (302, 303) and "/staff/login" in page.headers["Location"]


def test_another_districts_account_finds_nothing(world, make, logged_in):
    campaign, _ = world
    outsider = logged_in(make.community().parent.parent)
    for suffix in ("", "/words"):
        assert outsider.get(url(campaign, suffix)).status_code == 404
    assert outsider.get(f"/evaluate/campaigns/{campaign.id}/open-answers").status_code == 404
    assert outsider.get(url(campaign, suffix="").replace(str(campaign.id), "999999")).status_code == 404


@pytest.mark.parametrize("role", [Role.COMMUNITY, Role.STREET])
def test_staff_read_words_of_their_own_communities_not_answers(world, logged_in, role):
    campaign, communities = world
    a = communities["A"]
    staff = logged_in(a if role is Role.COMMUNITY else a.parent, role)
    refused = staff.get(url(campaign))
    assert refused.status_code == 403 and refused.get_json()["error"]["status"] == 403
    words = staff.get(url(campaign, "/words"))
    assert words.status_code == 200
    body = words.get_json()
    mine = {"甲社区"} if role is Role.COMMUNITY else {"甲社区", "乙社区"}
    assert {c["name"] for c in body["communities"]} == mine
    # For those who may not read the answers, a word must come from five residents at least: the
    # street's most used words (停车位 in 3 answers, 路灯 in 2) stay out; the evaluator sees them.
    assert body["min_answers"] == open_answers.STAFF_MIN_ANSWERS == 5
    assert [w for c in [body["scope"], *body["communities"]] for w in c["words"]] == []
    assert body["scope"]["answers"] == (5 if role is Role.COMMUNITY else 7)
    assert staff.get(url(campaign, "/words", community=communities["C"].id)).status_code == 404
    page = staff.get(f"/evaluate/campaigns/{campaign.id}/open-answers")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "常用词" in html and "单条回答只有考评人员和区里能看" in html
    assert "停车位太少了，停车难。" not in html and "路灯坏了，晚上太黑。" not in html
    assert 'name="q"' not in html


def test_the_page_lists_searches_and_shows_the_words(world, evaluator):
    campaign, communities = world
    page = evaluator.get(f"/evaluate/campaigns/{campaign.id}/open-answers")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "文字回答" in html and "常用词（全部社区）" in html and "回答（共 8 条）" in html
    assert "停车位太少了，停车难。" in html and "停车位太少，乱停车" not in html
    assert "另有 1 条来自不计入统计的问卷" in html
    assert '<meter min="0" max="3" value="3"' in html  # 停车位, the most used word
    assert "q=%E5%81%9C%E8%BD%A6%E4%BD%8D" in html  # clicking 停车位 searches it
    searched = evaluator.get(f"/evaluate/campaigns/{campaign.id}/open-answers",
                             query_string={"q": "路灯", "community": communities["B"].id}).get_data(as_text=True)
    assert "回答（共 1 条）" in searched and "常用词（乙社区）" in searched
    assert "停车位不够，路灯也坏了。" in searched and "路灯坏了，晚上太黑。" not in searched


# -- bad requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "params", "name"), [
    ("", {"page": "0"}, "page"),
    ("", {"page": "abc"}, "page"),
    ("", {"page": "-1"}, "page"),
    ("", {"since": "2026-13-01"}, "since"),
    ("", {"until": "1.3.2026"}, "until"),
    ("", {"since": "2026-03-05", "until": "2026-03-01"}, "until"),
    ("", {"item": "nope"}, "item"),
    ("", {"item": "sat"}, "item"),       # a scale question: no text answers
    ("", {"item": "years"}, "item"),     # a number question
    ("", {"channel": "fax"}, "channel"),
    ("", {"community": "abc"}, "community"),
    ("", {"include_excluded": "maybe"}, "include_excluded"),
    ("", {"q": "长" * 101}, "q"),
    ("/words", {"top": "0"}, "top"),
    ("/words", {"top": "201"}, "top"),
    ("/words", {"item": "joined"}, "item"),
    ("/words", {"q": "停车"}, "word counts"),
])
def test_bad_parameters_are_json_400(world, evaluator, suffix, params, name):
    campaign, _ = world
    answer = evaluator.get(url(campaign, suffix), query_string=params)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["status"] == 400 and name in error["message"]


def test_a_community_outside_the_campaign_is_404(world, evaluator, make):
    campaign, _ = world
    elsewhere = make.community()
    db.session.commit()
    assert evaluator.get(url(campaign, community=elsewhere.id)).status_code == 404
    assert evaluator.get(url(campaign, community=2**40)).status_code == 400


@pytest.mark.parametrize(("params", "message"), [
    ({"since": "2026-3-1"}, "日期请按“2026-01-31”的样子填写。"),
    ({"item": "sat"}, "这道题不是填空题"),
    ({"page": "x"}, "页码不对"),
])
def test_bad_parameters_on_the_page_are_chinese_400(world, evaluator, params, message):
    campaign, _ = world
    page = evaluator.get(f"/evaluate/campaigns/{campaign.id}/open-answers", query_string=params)
    assert page.status_code == 400
    assert message in page.get_data(as_text=True)


#: The small survey with a second free-text question, so one resident can write in two.
TWO_TEXTS = {**SMALL_SURVEY, "sections": [{**SMALL_SURVEY["sections"][0], "items": [
    *SMALL_SURVEY["sections"][0]["items"],
    {"key": "worry", "type": "text", "text": "您最担心什么？", "max_length": 2000, "tags": ["test:worry"]}]}]}


def test_the_staff_threshold_counts_residents_not_answers(make, logged_in):
    """One resident writing the same words in both text questions, even several times, is one
    resident: four residents writing 停车位 in both (8 answers) stay under the staff threshold of 5,
    a fifth brings it over; 垃圾桶, written 4 times in 2 answers by a single resident, never shows."""
    community = make.community(name="甲社区")
    campaign = make.campaign(make.version(TWO_TEXTS), communities=[community], one_per_device=False)
    db.session.commit()

    def resident(advice: str, worry: str) -> None:
        store_response(NewResponse(
            campaign_id=campaign.id, community_id=community.id, channel=Channel.QR, submission_id=uuid.uuid4().hex,
            submitted_at=datetime(2026, 3, 1, 9, tzinfo=LOCAL_TZ),
            answers=[("sat", ("4", None, None)), ("advice", ("", None, advice))]
            + ([("worry", ("", None, worry))] if worry else [])))

    for _ in range(4):
        resident("停车位不够", "停车位太挤")
    resident("垃圾桶满了，垃圾桶太少", "垃圾桶太臭，垃圾桶没人清")
    staff = logged_in(community, Role.COMMUNITY)
    evaluator = logged_in(community.parent.parent)

    def words(client) -> dict:
        body = client.get(url(campaign, "/words")).get_json()
        return {w["word"]: (w["count"], w["answers"]) for w in body["scope"]["words"]}

    assert words(evaluator)["停车位"] == (8, 8) and words(evaluator)["垃圾桶"] == (4, 2)
    assert words(staff) == {}  # 停车位: 8 answers but 4 residents; 垃圾桶: 1 resident
    resident("停车位在哪里", "")
    seen = words(staff)
    assert seen == {"停车位": (9, 9)}  # five residents now; 垃圾桶 still one
    page = staff.get(f"/evaluate/campaigns/{campaign.id}/open-answers").get_data(as_text=True)
    assert "停车位" in page and "垃圾桶" not in page
