"""Bad input on the resident's form: a clear answer, the right 4xx, nothing stored, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models.types import utcnow
from tests.helpers import VALID, count_answers, count_responses, errors_shown, open_form

#: (what is wrong, how to spoil a valid post, expected status, words on the page)
CASES = [
    ("required item missing", lambda d: d.pop("sat"), 400, "这一题还没有选"),
    ("unknown field", lambda d: d.update(evil="1"), 400, "提交的内容有误"),
    ("two values for a single choice", lambda d: d.update(sat=["4", "5"]), 400, "提交的内容有误"),
    ("two submission tokens", lambda d: d.update(submission=[d["submission"], d["submission"]]), 400, "提交的内容有误"),
    ("number that is not a number", lambda d: d.update(years="twelve"), 400, "请填写一个数字"),
    ("number out of range", lambda d: d.update(years="250"), 400, "0 到 100 之间"),
    ("fraction for a whole number", lambda d: d.update(years="2.5"), 400, "请填写一个整数"),
    ("choice code that does not exist", lambda d: d.update(sat="9"), 400, "请从给出的选项中选择"),
    ("multiple choice code that does not exist", lambda d: d.update(channels=["wechat", "fax"]), 400,
     "请从给出的选项中选择"),
    ("too many ticks", lambda d: d.update(channels=["wechat", "board", "meeting"]), 400, "最多只能选 2 项"),
    ("text over 2,000 characters", lambda d: d.update(advice="长" * 2001), 400, "最多填写 2000 个字"),
    ("missing CSRF token", lambda d: d.pop("csrf_token"), 400, "这一页需要重新提交"),
    ("wrong CSRF token", lambda d: d.update(csrf_token="forged"), 400, "这一页需要重新提交"),
    ("missing submission id", lambda d: d.pop("submission"), 400, "这一页需要重新提交"),
    ("forged submission id", lambda d: d.update(submission="eyJmb3JnZWQiOnRydWV9.abc.def"), 400,
     "这一页需要重新提交"),
]


@pytest.mark.parametrize("what, spoil, status, words", CASES, ids=[c[0] for c in CASES])
def test_bad_post_is_refused_with_a_message_and_stores_nothing(client, open_site, what, spoil, status, words):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    data = page.data(**VALID)
    spoil(data)
    response = client.post(page.action, data=data)
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    assert count_responses() == 0 and count_answers() == 0


def test_an_error_is_shown_beside_its_item(client, open_site):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    response = client.post(page.action, data=page.data(**dict(VALID, sat="9", years="-1")))
    html = response.get_data(as_text=True)
    assert errors_shown(html) == {"sat": "请从给出的选项中选择。", "years": "请填写 0 到 100 之间的数（年）。"}
    # Beside the item: inside the item's own block, and tied to it for screen readers.
    block = html.split('id="q-sat"')[1].split('id="q-joined"')[0]
    assert 'id="sat-err"' in block and 'aria-describedby="sat-err"' in block


def test_a_body_of_megabytes_gets_413_and_stores_nothing(client, open_site):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    response = client.post(page.action, data=page.data(**dict(VALID, advice="x" * (3 * 1024 * 1024))))
    assert response.status_code == 413
    assert "内容太多" in response.get_data(as_text=True)
    assert count_responses() == 0


def test_a_json_body_is_refused(client, open_site):
    site, _ = open_site
    response = client.post(f"/s/{site.token}", json={"sat": "5"})
    assert response.status_code == 400
    assert count_responses() == 0


def test_a_token_for_another_campaign_is_refused(client, make):
    site = make.site()
    first = make.campaign(communities=[site.community], name="甲")
    make.campaign(communities=[site.community], name="乙")
    db.session.commit()
    page_for_first = open_form(client, f"/s/{site.token}?c={first.id}")
    second_id = first.id + 1
    response = client.post(f"/s/{site.token}?c={second_id}", data=page_for_first.data(**VALID))
    assert response.status_code == 400
    assert count_responses() == 0


# -- random form data ---------------------------------------------------------------

FIELD_NAMES = ["sat", "joined", "joined_sat", "channels", "years", "advice", "csrf_token", "submission",
               "evil", "", "sat[]", "__proto__"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["1", "2", "3", "4", "5", "dk", "wechat", "board", "meeting", "12", "-1", "1e400",
                     "NaN", "０", "\x00", "' OR 1=1 --", "<script>alert(1)</script>"]),
    st.text(min_size=1990, max_size=2100, alphabet="长x"),
)
FORM_DATA = st.dictionaries(st.sampled_from(FIELD_NAMES), st.one_of(VALUES, st.lists(VALUES, max_size=4)),
                            max_size=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=FORM_DATA, keep_tokens=st.booleans())
def test_random_form_data_never_gives_a_server_error(client, open_site, data, keep_tokens):
    site, _ = open_site
    client.delete_cookie("minyi_device")  # each example is a new phone
    page = open_form(client, f"/s/{site.token}")
    if keep_tokens:
        data = dict(data, csrf_token=page.csrf_token, submission=page.submission)
    before = count_responses()
    response = client.post(page.action, data=data)
    assert response.status_code in (303, 400, 409, 413), response.status_code
    after = count_responses()
    if response.status_code == 303:
        # Stored only when everything was right: the tokens, and every required answer given.
        assert keep_tokens and after == before + 1
    else:
        assert after == before


# -- what the review found --------------------------------------------------------------

def test_a_json_body_with_good_tokens_is_still_refused(client, open_site):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    for body in (page.data(**VALID), page.data(**dict(VALID, advice=5)), [1, 2], "x"):
        response = client.post(page.action, json=body)
        assert response.status_code == 400 and "提交的内容有误" in response.get_data(as_text=True)
    assert count_responses() == 0


@pytest.mark.parametrize("file_field", ["evil", "advice"])
def test_a_file_part_is_refused(client, open_site, file_field):
    import io
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    data = page.data(**VALID)
    data[file_field] = (io.BytesIO(b"hello"), "a.txt")
    response = client.post(page.action, data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert count_responses() == 0


def test_multipart_without_files_is_a_form_like_any_other(client, open_site):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    assert client.post(page.action, data=page.data(**VALID), content_type="multipart/form-data").status_code == 303
    assert count_responses() == 1


@pytest.mark.parametrize("text", ["a\x00b", "\x00", "x\x07y", "\x1b[31m"])
def test_control_characters_in_text_are_refused_kindly(client, open_site, text):
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    response = client.post(page.action, data=page.data(**dict(VALID, advice=text)))
    assert response.status_code == 400
    assert errors_shown(response.get_data(as_text=True)) == {"advice": "内容里有无法保存的特殊符号，请删掉后再提交。"}
    assert count_responses() == 0


def test_tabs_and_line_breaks_are_kept(client, open_site):
    import sqlalchemy as sa

    from app.models import Answer
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    assert client.post(page.action, data=page.data(**dict(VALID, advice="第一行\r\n第二行\t完"))).status_code == 303
    assert db.session.scalar(sa.select(Answer.text).where(Answer.item == "advice")) == "第一行\n第二行\t完"


@pytest.mark.parametrize("path", ["/s/%00", "/s/a%00b", "/s/%00/thanks", "/qr/%00.png", "/s/abc%00def/thanks",
                                  "/s/%E4%BD%A0%E5%A5%BD", "/s/..%2F..", "/s/" + "a" * 44])
def test_odd_tokens_are_not_found(client, app, path):
    assert client.get(path).status_code == 404
    assert client.post(path, data={"x": "1"}).status_code in (404, 405)  # thanks and QR pages take no POST


def test_head_shows_the_form_headers_and_stores_nothing(client, open_site):
    site, _ = open_site
    response = client.head(f"/s/{site.token}")
    assert response.status_code == 200 and response.data == b""
    assert count_responses() == 0


# -- random posts ----------------------------------------------------------------------

ODD_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1f), min_size=1, max_size=5),  # NUL and other controls
    st.sampled_from(["", " ", "９９", "1,000", "-0", "１e3", "\ufeff", "\u202e反转", "😀", "%00", "a" * 2001]),
)
ENCODINGS = ["urlencoded", "multipart", "multipart+file", "json"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["sat", "joined", "joined_sat", "channels", "years", "advice", "csrf_token",
                              "submission", "extra"]),
       value=st.one_of(ODD_TEXT, st.lists(ODD_TEXT, min_size=2, max_size=3)),
       encoding=st.sampled_from(ENCODINGS))
def test_a_valid_post_with_one_thing_spoiled_never_gives_a_server_error(client, open_site, field, value, encoding):
    """Starts from answers that would be stored and spoils one field, in every body encoding."""
    import io
    site, _ = open_site
    client.delete_cookie("minyi_device")  # each example is a new phone
    page = open_form(client, f"/s/{site.token}")
    data = page.data(**dict(VALID, **{field: value}))
    before = count_responses()
    if encoding == "json":
        response = client.post(page.action, json=data)
    elif encoding.startswith("multipart"):
        if encoding.endswith("file"):
            data["upload"] = (io.BytesIO(b"x"), "x.txt")
        response = client.post(page.action, data=data, content_type="multipart/form-data")
    else:
        response = client.post(page.action, data=data)
    assert response.status_code in (303, 400), response.status_code
    stored = count_responses() - before
    assert stored == (1 if response.status_code == 303 else 0)
    if encoding in ("json", "multipart+file") or field == "extra":
        assert response.status_code == 400


@pytest.mark.parametrize("named", ["2147483648", "99999999999999999999999", "-5", "0"])
def test_a_campaign_number_no_campaign_can_have_is_no_campaign(client, open_site, named):
    """The form's address names its campaign (c=); a number out of any column's range finds
    nothing, as any unknown campaign does (it once reached the database and failed there)."""
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    response = client.post(f"/s/{site.token}?c={named}", data=page.data(**VALID))
    assert response.status_code == 404
    assert "现在没有调查" in response.get_data(as_text=True)
    assert count_responses() == 0 and count_answers() == 0


# -- what changed between showing the form and posting it (the submit path's one query decides) --

def _retire(site, campaign):
    site.retired_at = utcnow()


def _close(site, campaign):
    campaign.closes_at = utcnow() - timedelta(seconds=1)


def _leave(site, campaign):
    campaign.communities.clear()


@pytest.mark.parametrize("change, status, words", [
    (_retire, 410, "这个二维码已经停用"),
    (_close, 410, "这份调查已经结束了"),
    (_leave, 404, "这里现在没有正在进行的调查"),
], ids=["site retired", "campaign closed", "community taken out of the campaign"])
def test_a_post_after_the_site_or_campaign_changed_stores_nothing(client, open_site, change, status, words):
    site, campaign = open_site
    page = open_form(client, f"/s/{site.token}")
    change(site, campaign)
    db.session.commit()
    response = client.post(page.action, data=page.data(**VALID))
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    assert count_responses() == 0 and count_answers() == 0


def test_a_campaign_of_another_community_named_in_the_address_takes_no_answers(client, make, open_site):
    site, _ = open_site
    elsewhere = make.site(make.community("别的社区"))
    other = make.campaign(communities=[elsewhere.community], name="别的社区的调查")
    db.session.commit()
    page = open_form(client, f"/s/{site.token}")
    response = client.post(f"/s/{site.token}?c={other.id}", data=page.data(**VALID))
    assert response.status_code == 404
    assert count_responses() == 0 and count_answers() == 0
