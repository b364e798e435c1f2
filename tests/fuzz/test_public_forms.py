"""Random posts against every form a visitor reaches without logging in, and random query strings on every
public page: never a 5xx; a refused post stores nothing; a refusal a resident reads is in Chinese.

Which forms and pages are public is found from app.url_map, by asking as an anonymous visitor (with a good
CSRF token, so the token check does not hide the login check): whatever does not send the visitor to the
staff login is public, and must be fuzzed here. A public form added later without its entry in FORMS fails
``test_every_public_form_is_fuzzed``. The JSON API is fuzzed from its OpenAPI file (test_api_schema.py)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qsl, quote, urlencode

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Answer, MeetingVote, Response, Ticket
from tests.fuzz.conftest import PASSWORD, World

#: Chinese characters: what every refusal a resident reads must contain.
HAN = re.compile(r"[\u3400-\u9fff]")
EXAMPLES = 60
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- what a visitor can reach --------------------------------------------------------------

def _path_value(rule, name: str, world: World) -> str:
    """The world's value for one of a rule's variables (pages of staff get a plain 1)."""
    converter = rule._converters.get(name)
    if hasattr(converter, "items"):  # any(open, close)
        return min(converter.items)
    if name == "token":
        return world.ticket_tokens[0] if rule.endpoint.startswith("resident.ticket") else world.site_tokens[0]
    return {"code": world.join_code, "campaign_id": str(world.earlier), "filename": "resident.css"}.get(name, "1")


def real_path(rule, world: World) -> str:
    return re.sub(r"<(?:[^>]*:)?(\w+)>", lambda m: _path_value(rule, m.group(1), world), rule.rule)


def _goes_to_login(response) -> bool:
    return response.status_code in (401, 403) or (
        response.status_code in (301, 302, 303) and "/staff/login" in response.headers.get("Location", ""))


def public_rules(app, world: World, method: str) -> set[str]:
    """The rules (but the API's and static files) that answer ``method`` to a visitor who is not logged in."""
    client = app.test_client()
    token = hidden(client.get("/staff/login").get_data(as_text=True), "csrf_token")
    found = set()
    for rule in app.url_map.iter_rules():
        if method not in rule.methods or rule.rule.startswith(("/api/", "/static/")):
            continue
        path = real_path(rule, world)
        answer = client.post(path, data={"csrf_token": token}) if method == "POST" else client.get(path)
        db.session.rollback()
        if not _goes_to_login(answer):
            found.add(rule.rule)
    return found


def hidden(html: str, name: str) -> str | None:
    m = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html) \
        or re.search(rf'type="hidden" name="{name}" value="([^"]*)"', html)
    return unescape(m.group(1)) if m else None


# -- the forms -------------------------------------------------------------------------------------

@dataclass
class Form:
    #: the page that shows the form (its tokens are read from it)
    page: Callable[[World], str]
    #: where it posts (None: the page's own form action)
    action: Callable[[World], str] | None
    #: a post that would be taken, before the fuzzer spoils it
    good: Callable[[World, str], dict]
    #: the names of the hidden tokens the page gives
    tokens: tuple[str, ...] = ("csrf_token",)
    #: the answer is JSON (a script's), not a page
    json_answer: bool = False


def _survey_answers(world: World, html: str) -> dict:
    """The first offered answer of every choice question on the page: a post the survey takes."""
    answers: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]*type="(?:radio|checkbox)"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                                  html):
        answers.setdefault(name, unescape(value))
    return answers


def _vote(world: World, html: str) -> dict:
    return {"question": str(world.question_id), "option": world.option_codes[0]}


FORMS: dict[str, Form] = {
    "/s/<token>": Form(lambda w: f"/s/{w.site_tokens[1]}", None, _survey_answers, ("csrf_token", "submission")),
    "/t/<token>": Form(lambda w: f"/t/{w.ticket_tokens[0]}", None, _survey_answers, ("csrf_token", "submission")),
    "/m/<code>": Form(lambda w: f"/m/{w.join_code}", lambda w: f"/m/{w.join_code}", _vote),
    "/m/<code>/vote": Form(lambda w: f"/m/{w.join_code}", lambda w: f"/m/{w.join_code}/vote", _vote,
                           json_answer=True),
    "/staff/login": Form(lambda w: "/staff/login", lambda w: "/staff/login",
                         lambda w, html: {"username": w.evaluator, "password": PASSWORD[::-1]}),
}


def stored() -> dict[str, int]:
    """What a post could have stored."""
    def count(column, *where):
        return db.session.scalar(sa.select(sa.func.count(column)).where(*where))
    return {"responses": count(Response.id), "answers": count(Answer.response_id), "votes": count(MeetingVote.id),
            "used tickets": count(Ticket.id, Ticket.used_at.is_not(None))}


# -- random values ---------------------------------------------------------------------------------

ODD = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1f), min_size=1, max_size=4),  # NUL and other controls
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "1", "2", "dk", "0", "-1", "99999999999999999999", "１", "1e400", "NaN", "\ufeff",
                     "\u202e反转", "😀", "%00", "' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd",
                     "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")]),
    st.sampled_from([2001, 70_000]).map(lambda n: "长" * n),
)
VALUE = st.one_of(ODD, st.lists(ODD, min_size=2, max_size=4))
ENCODINGS = ["urlencoded", "multipart", "multipart with a file", "json", "text/plain", "form body, wrong type"]
TOKENS = ["as given", "missing", "made up", "repeated"]
IPS = st.tuples(*[st.integers(1, 254)] * 4).map(lambda parts: ".".join(map(str, parts)))


def _form_names(html: str) -> list[str]:
    return sorted(set(re.findall(r'name="([^"]+)"', html)))


#: How far a post strays from one the form would take: not at all (new phones, a used ticket, a closed
#: question are what refuse it), one real field given an odd value, or anything at all.
SPOILING = ["none", "one field", "anything"]


@st.composite
def posts(draw, names: list[str], tokens: tuple[str, ...]):
    """(spoiling, fields, token treatments, encoding, query, new phone, client address)"""
    spoiling = draw(st.sampled_from(SPOILING))
    if spoiling == "none":
        fields, how, encoding, query = {}, dict.fromkeys(tokens, "as given"), draw(st.sampled_from(ENCODINGS[:2])), {}
    elif spoiling == "one field":
        fields = {draw(st.sampled_from(names)): draw(VALUE)}
        how, encoding, query = dict.fromkeys(tokens, "as given"), draw(st.sampled_from(ENCODINGS)), {}
    else:
        name = st.one_of(st.sampled_from(names), st.text(max_size=12))
        fields = draw(st.dictionaries(name, VALUE, max_size=8))
        how = {t: draw(st.sampled_from(TOKENS)) for t in tokens}
        encoding = draw(st.sampled_from(ENCODINGS))
        query = draw(st.dictionaries(st.one_of(st.sampled_from(["c", "code", "next", "question"]), st.text(max_size=6)),
                                     ODD.filter(lambda v: len(v) < 200), max_size=3))
    return spoiling, fields, how, encoding, query, draw(st.booleans()), draw(IPS)


def _send(client, url: str, data: dict, encoding: str, ip: str):
    environ = {"REMOTE_ADDR": ip}
    if encoding == "json":
        return client.post(url, json=data, environ_base=environ)
    if encoding == "text/plain":
        return client.post(url, data=urlencode(data, doseq=True), content_type="text/plain", environ_base=environ)
    if encoding == "form body, wrong type":
        return client.post(url, data=urlencode(data, doseq=True), content_type="application/xml",
                           environ_base=environ)
    if encoding.startswith("multipart"):
        data = dict(data)
        if encoding.endswith("file"):
            data["upload"] = (io.BytesIO(b"\x00\xffGIF89a"), "照片.gif")
        return client.post(url, data=data, content_type="multipart/form-data", environ_base=environ)
    return client.post(url, data=data, environ_base=environ)


def assert_chinese_refusal(response, json_answer: bool) -> None:
    body = response.get_data(as_text=True)
    if json_answer and response.is_json:
        body = str(response.get_json())
    assert HAN.search(body), (response.status_code, body[:300])


# -- the tests -------------------------------------------------------------------------------------

def test_every_public_form_is_fuzzed(fuzz_app, fuzz_world):
    app, world = fuzz_app
    assert public_rules(app, world, "POST") == set(FORMS)


@pytest.mark.parametrize("rule", sorted(FORMS))
def test_random_posts_never_fail_and_a_refusal_stores_nothing(fuzz_app, fuzz_world, rule):
    app, world = fuzz_app
    form = FORMS[rule]
    client = app.test_client()
    first = client.get(form.page(world)).get_data(as_text=True)
    names = [n for n in _form_names(first) if n not in form.tokens] + ["csrf_token", "submission"]
    outcomes: dict[int, int] = {}

    @FUZZ
    @given(example=posts(names, form.tokens))
    def run(example):
        spoiling, fields, how, encoding, query, new_phone, ip = example
        if new_phone:
            client.delete_cookie("minyi_device")
        html = client.get(form.page(world)).get_data(as_text=True)
        shown = re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', html)
        # A phone that answered already (or a used ticket) gets no form: it posts to the page all the same.
        action = form.action(world) if form.action else unescape(shown.group(1)) if shown else form.page(world)
        data = dict(form.good(world, html)) if spoiling != "anything" or fields.pop("", None) is None else {}
        for token, treatment in how.items():
            value = hidden(html, token)
            if treatment == "as given" and value is not None:
                data[token] = value
            elif treatment == "made up":
                data[token] = "eyJmb3JnZWQiOnRydWV9.abc.def"
            elif treatment == "repeated" and value is not None:
                data[token] = [value, value]
        data.update(fields)
        if query:
            # The fuzzed parameters replace the form's own (a second c= would be ignored: the first counts).
            path, _, own = action.partition("?")
            action = path + "?" + urlencode({**dict(parse_qsl(own, keep_blank_values=True)), **query})
        before = stored()
        response = _send(client, action, data, encoding, ip)
        db.session.rollback()  # read what the request committed, not this session's snapshot
        after = stored()
        status = response.status_code
        outcomes[status] = outcomes.get(status, 0) + 1
        assert status < 500, (status, response.get_data(as_text=True)[:500])
        if status >= 400:
            assert after == before, (status, before, after)
            assert_chinese_refusal(response, form.json_answer)
        else:
            assert all(0 <= after[k] - before[k] <= {"answers": 10_000}.get(k, 1) for k in after), (before, after)

    run()
    # Some posts were refused, and some (not the login's) got through to be stored.
    assert any(s >= 400 for s in outcomes), outcomes
    assert rule == "/staff/login" or any(s < 400 for s in outcomes), outcomes


def test_a_refused_login_logs_nobody_in(fuzz_app, fuzz_world):
    """The login form's fuzz above stores nothing by construction; here: refused, the visitor stays out."""
    app, world = fuzz_app
    client = app.test_client()
    token = hidden(client.get("/staff/login").get_data(as_text=True), "csrf_token")

    @FUZZ
    @given(username=st.one_of(st.just(world.evaluator), ODD), password=ODD, ip=IPS)
    def run(username, password, ip):
        response = client.post("/staff/login", data={"csrf_token": token, "username": username, "password": password},
                               environ_base={"REMOTE_ADDR": ip})
        assert response.status_code in (400, 401, 413, 429), response.status_code
        assert_chinese_refusal(response, False)
        assert _goes_to_login(client.get("/staff/"))

    run()


# -- public pages with random query strings ------------------------------------------------------------

def _random_path(rule, world: World, draw) -> str:
    def value(m):
        name = m.group(1)
        if draw(st.booleans()):
            return _path_value(rule, name, world)
        return quote(draw(st.one_of(ODD, st.text(min_size=1, max_size=60))).replace("/", ""), safe="") or "x"
    return re.sub(r"<(?:[^>]*:)?(\w+)>", value, rule.rule)


def test_public_pages_take_any_query_string(fuzz_app, fuzz_world):
    app, world = fuzz_app
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule in public_rules(app, world, "GET")]
    # Residents' and visitors' pages: the survey, tickets, meetings, results, QR codes, login, health.
    assert {"/s/<token>", "/t/<token>", "/m", "/m/<code>", "/results/<int:campaign_id>",
            "/staff/login"} <= {rule.rule for rule in rules}
    client = app.test_client()

    @settings(FUZZ, max_examples=EXAMPLES * 3)
    @given(rule=st.sampled_from(rules), data=st.data(),
           query=st.dictionaries(st.one_of(st.sampled_from(["c", "code", "page", "item", "next", "format"]),
                                           st.text(max_size=6)),
                                 st.one_of(ODD, st.lists(ODD, max_size=3)).filter(lambda v: len(str(v)) < 3000),
                                 max_size=4))
    def run(rule, data, query):
        path = _random_path(rule, world, data.draw)
        response = client.get(path + "?" + urlencode(query, doseq=True))
        db.session.rollback()
        assert response.status_code < 500, (path, query, response.status_code, response.get_data(as_text=True)[:300])
        if response.status_code >= 400 and response.mimetype in ("text/html", "application/json"):
            assert_chinese_refusal(response, True)
        response.close()  # an event stream is not read to its end

    run()
