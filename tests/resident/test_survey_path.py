"""The resident's path: scan, open the form, answer, stored once, counted."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from app.extensions import db
from app.models import Answer, Channel, QualityFlag, Response
from tests.helpers import VALID, count_responses, errors_shown, open_form, read_form


def test_qr_code_decodes_to_the_site_form_and_a_submission_is_counted(client, open_site, logged_in):
    site, campaign = open_site
    png = client.get(f"/qr/{site.token}.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert len(decoded) == 1
    url = decoded[0].text
    assert url == f"http://minyi.test/s/{site.token}"
    # Error correction level M or higher (zxing reports the level it read).
    assert decoded[0].ec_level in ("M", "Q", "H")

    page = open_form(client, url.removeprefix("http://minyi.test"))
    assert "测试问卷" in page.html
    done = client.post(page.action, data=page.data(**VALID))
    assert done.status_code == 303
    thanks = client.get(done.headers["Location"])
    assert "提交成功" in thanks.get_data(as_text=True)

    evaluator = logged_in(site.community.parent.parent)
    counts = evaluator.get(f"/api/v1/campaigns/{campaign.id}/counts").get_json()
    assert counts["total"] == 1
    assert counts["by_community"] == [{
        "community_id": site.community_id, "code": site.community.code, "name": site.community.name,
        "responses": 1, "flagged": 0, "target": 100}]


def test_svg_qr_code_is_an_svg_of_the_same_url(client, open_site):
    site, _ = open_site
    svg = client.get(f"/qr/{site.token}.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.lstrip().startswith(b"<?xml") and b"<svg" in svg.data and b"<path" in svg.data


def test_answers_are_stored_in_the_long_table_keyed_for_counting(client, open_site):
    site, campaign = open_site
    page = open_form(client, f"/s/{site.token}")
    answers = dict(VALID, channels=["wechat", "board"], joined="1", joined_sat="5")
    assert client.post(page.action, data=page.data(**answers)).status_code == 303
    response = db.session.scalar(sa.select(Response))
    assert (response.campaign_id, response.community_id, response.site_id) == (campaign.id, site.community_id, site.id)
    assert response.channel is Channel.QR
    assert response.started_at is not None and response.started_at <= response.submitted_at
    rows = db.session.execute(sa.select(Answer.item, Answer.value, Answer.number, Answer.text)
                              .order_by(Answer.item, Answer.value)).all()
    assert rows == [("advice", "", None, "多办活动"), ("channels", "board", None, None),
                    ("channels", "wechat", None, None), ("joined", "1", None, None),
                    ("joined_sat", "5", None, None), ("sat", "4", None, None), ("years", "12", 12.0, None)]
    assert {(a.campaign_id, a.community_id) for a in response.answers} == {(campaign.id, site.community_id)}


def test_an_item_hidden_by_skip_logic_is_neither_required_nor_stored(client, open_site):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    # joined = 2 (did not take part): joined_sat is hidden; an answer sent for it anyway is ignored.
    assert client.post(page.action, data=page.data(**dict(VALID, joined="2", joined_sat="1"))).status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer).where(Answer.item == "joined_sat")) == 0


def test_a_shown_conditional_item_is_required(client, open_site):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    again = client.post(page.action, data=page.data(**dict(VALID, joined="1")))
    assert again.status_code == 400
    assert errors_shown(again.get_data(as_text=True)) == {"joined_sat": "这一题还没有选，请选一项。"}
    assert count_responses() == 0


def test_double_submit_stores_one_response_and_shows_the_same_thanks(client, open_site):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    first = client.post(page.action, data=page.data(**VALID))
    second = client.post(page.action, data=page.data(**VALID))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count_responses() == 1


def test_a_retry_from_a_device_that_lost_its_cookie_is_still_one_response(app, open_site):
    site, _ = open_site
    first_client = app.test_client()
    page = open_form(first_client, f"/s/{site.token}")
    assert first_client.post(page.action, data=page.data(**VALID)).status_code == 303
    # Same submission id from a client without the cookie (e.g. a retry through another tab).
    other = app.test_client()
    other.get(f"/s/{site.token}")  # a session (and CSRF secret) of its own
    with other.session_transaction() as s, first_client.session_transaction() as f:
        s["csrf_token"] = f["csrf_token"]
    assert other.post(page.action, data=page.data(**VALID)).status_code == 303
    assert count_responses() == 1


def test_one_response_per_device(client, open_site):
    site, campaign = open_site
    old_page = open_form(client, f"/s/{site.token}")
    page = open_form(client, f"/s/{site.token}")
    assert client.post(page.action, data=page.data(**VALID)).status_code == 303
    revisit = client.get(f"/s/{site.token}")
    assert revisit.status_code == 200 and "您已经填过了" in revisit.get_data(as_text=True)
    assert 'id="survey"' not in revisit.get_data(as_text=True)
    # A form opened before answering, submitted afterwards, is a second response: refused.
    late = client.post(old_page.action, data=old_page.data(**VALID))
    assert late.status_code == 409 and "已经填过" in late.get_data(as_text=True)
    assert count_responses(campaign.id) == 1


def test_one_per_device_holds_even_without_the_answered_cookie(app, open_site):
    """The device cookie carries the id; the database's unique (campaign, once_key) decides."""
    site, _ = open_site
    client = app.test_client()
    first, second = open_form(client, f"/s/{site.token}"), open_form(client, f"/s/{site.token}")
    assert client.post(first.action, data=first.data(**VALID)).status_code == 303
    cookie = client.get_cookie("minyi_device")
    # A forged or stale "answered" list cannot be made (it is signed); here we replay the
    # pre-answer cookie value, as a client that ignores Set-Cookie would.
    client.set_cookie("minyi_device", cookie.value)
    assert client.post(second.action, data=second.data(**VALID)).status_code == 409
    assert count_responses() == 1


def test_campaign_may_allow_several_responses_per_device(client, make):
    site = make.site()
    make.campaign(communities=[site.community], one_per_device=False)
    db.session.commit()
    for _ in range(3):
        page = open_form(client, f"/s/{site.token}")
        assert client.post(page.action, data=page.data(**VALID)).status_code == 303
    assert count_responses() == 3


@pytest.mark.parametrize("state, status, words", [
    ("closed", 410, "调查已经结束"),
    ("scheduled", 404, "调查还没有开始"),
    ("draft", 404, "现在没有调查"),
])
def test_a_site_without_an_open_campaign_explains_why(client, make, state, status, words):
    site = make.site()
    make.campaign(communities=[site.community], state=state)
    db.session.commit()
    for method in (client.get, lambda url: client.post(url, data={"csrf_token": "x"})):
        response = method(f"/s/{site.token}")
        assert response.status_code == status
        assert words in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/s/not-a-token", "/s/" + "x" * 200, "/qr/nope.png", "/qr/nope.svg",
                                  "/s/nope/thanks"])
def test_unknown_token_is_a_404_page_in_chinese(client, app, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "找不到" in response.get_data(as_text=True)


def test_closing_between_showing_and_submitting_stores_nothing(client, open_site):
    site, campaign = open_site
    page = open_form(client, f"/s/{site.token}")
    from app.models.types import utcnow
    campaign.closes_at = utcnow()
    db.session.commit()
    response = client.post(page.action, data=page.data(**VALID))
    assert response.status_code == 410
    assert count_responses() == 0


def test_several_open_campaigns_at_a_site_let_the_resident_choose(client, make):
    site = make.site()
    first = make.campaign(communities=[site.community], name="甲")
    second = make.campaign(communities=[site.community], name="乙")
    db.session.commit()
    listing = client.get(f"/s/{site.token}").get_data(as_text=True)
    assert f"/s/{site.token}?c={first.id}" in listing and f"/s/{site.token}?c={second.id}" in listing
    page = open_form(client, f"/s/{site.token}?c={second.id}")
    assert client.post(page.action, data=page.data(**VALID)).status_code == 303
    assert count_responses(second.id) == 1 and count_responses(first.id) == 0


def test_straight_lining_is_flagged_not_dropped(client, make):
    items = "\n".join(
        f'      - {{key: q{i}, type: likert, scale: satisfaction5, text: 第{i}题, required: true, tags: ["t:x"]}}'
        for i in range(1, 6))
    version = make.version(f"title: 直线\nsections:\n  - items:\n{items}\n")
    site = make.site()
    make.campaign(version, [site.community], one_per_device=False)
    db.session.commit()
    for answers in ({f"q{i}": "5" for i in range(1, 6)}, {f"q{i}": str(1 + i % 5) for i in range(1, 6)}):
        page = open_form(client, f"/s/{site.token}")
        assert client.post(page.action, data=page.data(**answers)).status_code == 303
    flags = db.session.scalars(sa.select(Response.quality_flags).order_by(Response.id)).all()
    assert [QualityFlag(f) for f in flags] == [QualityFlag.STRAIGHT_LINE, QualityFlag(0)]


def test_no_raw_ip_address_is_stored(app, open_site):
    site, _ = open_site
    client = app.test_client()
    page = open_form(client, f"/s/{site.token}")
    client.post(page.action, data=page.data(**VALID), environ_base={"REMOTE_ADDR": "203.0.113.77"})
    row = db.session.execute(sa.select(Response.__table__)).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert "203.0.113" not in stored
    assert row["network_hash"] and len(row["network_hash"]) == 16
    # Same /24 network, same hash; the hash is keyed, so it is not a plain digest of the address.
    from app.resident.operations import network_hash
    assert network_hash("test-secret-key", "203.0.113.5") == row["network_hash"]
    assert network_hash("another-key", "203.0.113.5") != row["network_hash"]


def test_a_form_with_errors_keeps_every_other_answer(client, open_site):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    response = client.post(page.action, data=page.data(**dict(VALID, sat="", years="abc")))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert errors_shown(html) == {"sat": "这一题还没有选，请选一项。", "years": "请填写一个数字。"}
    assert 'value="2" checked' in html and 'value="wechat" checked' in html
    assert 'value="abc"' in html and ">多办活动</textarea>" in html
    # The kept form can be corrected and sent.
    again = read_form(response)
    assert client.post(again.action, data=again.data(**VALID)).status_code == 303
    assert count_responses() == 1


@pytest.mark.parametrize("address", ["form", "bare"], ids=["the form's address", "an old form's bare address"])
def test_a_campaign_opening_mid_form_does_not_lose_the_answers(client, make, address):
    """The form names its campaign (in its address, and in its signed submission token), so
    the answers go to it even when a second campaign opens meanwhile."""
    site = make.site()
    first = make.campaign(communities=[site.community], name="甲")
    db.session.commit()
    page = open_form(client, f"/s/{site.token}")
    assert f"?c={first.id}" in page.action
    make.campaign(communities=[site.community], name="乙")
    db.session.commit()
    url = page.action if address == "form" else f"/s/{site.token}"
    assert client.post(url, data=page.data(**VALID)).status_code == 303
    assert count_responses(first.id) == 1


def test_answers_for_a_closed_campaign_are_not_filed_under_another(client, make):
    site = make.site()
    first = make.campaign(communities=[site.community], name="甲")
    db.session.commit()
    page = open_form(client, f"/s/{site.token}")
    second = make.campaign(communities=[site.community], name="乙")
    from app.models.types import utcnow
    first.closes_at = utcnow()
    db.session.commit()
    response = client.post(page.action, data=page.data(**VALID))
    assert response.status_code == 410 and "调查已经结束" in response.get_data(as_text=True)
    assert count_responses() == 0 and count_responses(second.id) == 0


def test_a_refused_second_answer_makes_the_phone_remembered(app, open_site):
    site, _ = open_site
    phone = app.test_client()
    first, second = open_form(phone, f"/s/{site.token}"), open_form(phone, f"/s/{site.token}")
    stored_cookie = phone.get_cookie("minyi_device").value
    assert phone.post(first.action, data=first.data(**VALID)).status_code == 303
    phone.set_cookie("minyi_device", stored_cookie)  # the cookie forgot the answer
    assert phone.post(second.action, data=second.data(**VALID)).status_code == 409
    revisit = phone.get(f"/s/{site.token}")
    assert "您已经填过了" in revisit.get_data(as_text=True)


def test_versioned_static_files_are_cached_for_a_year(client, open_site):
    import re
    site, _ = open_site
    html = client.get(f"/s/{site.token}").get_data(as_text=True)
    path = re.search(r'href="(/static/css/[^"]+)"', html).group(1).replace("&amp;", "&")
    with client.get(path) as response:
        assert response.cache_control.max_age == 365 * 24 * 3600 and response.cache_control.immutable
        assert not response.cache_control.no_cache


def test_a_condition_on_most_options_names_the_few_that_do_not_lead_there(make):
    from app.resident.operations import condition_notes
    version = make.version("""
title: 测试
sections:
  - items:
      - {key: seen, type: multiple, text: 从哪里看到过, tags: ["t:x"],
         options: [{code: tv, label: 电视}, {code: paper, label: 报纸}, {code: wechat, label: 微信},
                   {code: none, label: 都没看到过, exclusive: true}]}
      - {key: like, type: likert, scale: satisfaction5, text: 满意吗, tags: ["t:x"],
         show_if: {item: seen, in: [tv, paper, wechat]}}
""")
    assert condition_notes(version.survey_definition) == {"like": "第 1 题选了“都没看到过”以外的选项的，请回答这一题。"}


def test_a_post_naming_no_campaign_where_several_are_open_is_refused(client, make):
    site = make.site()
    make.campaign(communities=[site.community], name="甲")
    make.campaign(communities=[site.community], name="乙")
    db.session.commit()
    response = client.post(f"/s/{site.token}", data=dict(VALID, csrf_token="x"))
    assert response.status_code == 400 and count_responses() == 0
