"""The fuzz tests' world: a small district shaped like the demo, built once per module and database.

    D 五华区 ── S1 华山街道 ── C1 翠湖社区, C2 文林社区
            └─ S2 护国街道 ── C3 青云社区

Every community has two sites (QR posters). The shipped questionnaires are synced; the Kunming
questionnaire runs as an open campaign (``open``, demo answers, demo scoring numbers and population
margins, three tickets, a 坝坝会 whose first question is open for voting) and as an earlier wave
(``earlier``: closed and published, for /results and the wave comparison). The fuzzers send
thousands of requests; building this per example would cost more than the requests, so it is
built once per module and database (``fuzz_app``), and examples share it as phones share a server.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from app import create_app
from app.definitions import load_all
from app.demo import _add_meeting, _add_responses
from app.demo_scores import add_demo_scoring
from app.demo_weighting import add_demo_margins
from app.evaluation.published import set_published
from app.extensions import db
from app.meetings import operations as meetings
from app.models import CommunityKind, Meeting, RegionLevel, Role
from app.models.types import utcnow
from app.staff.operations import add_region, add_site, create_account, create_campaign, issue_tickets, sync_survey
from tests.conftest import BACKENDS, RequestScopedClient, base_config
from tests.helpers import logged_in_client

PASSWORD = "correct horse battery"


@dataclass
class World:
    district: int
    streets: list[int]
    communities: list[int]
    #: the open Kunming campaign, and its closed, published earlier wave
    campaign: int
    earlier: int
    site_tokens: list[str]
    ticket_tokens: list[str]
    join_code: str
    question_id: int
    option_codes: list[str]
    #: item keys of the campaign's questionnaire by type (likert, single, multiple, text, number)
    items: dict[str, list[str]] = field(default_factory=dict)
    evaluator: str = "fuzz-evaluator"


def _build_world(surveys_dir: str) -> World:
    rng, np_rng = random.Random(7), np.random.default_rng(7)
    versions = {sid: sync_survey(d).version for sid, d in load_all(surveys_dir).items()}
    district = add_region("530102", "五华区", RegionLevel.DISTRICT)
    s1 = add_region("530102001", "华山街道", RegionLevel.STREET, district)
    s2 = add_region("530102002", "护国街道", RegionLevel.STREET, district)
    communities = [
        add_region("530102001001", "翠湖社区", RegionLevel.COMMUNITY, s1, households=3000, kind=CommunityKind.URBAN),
        add_region("530102001002", "文林社区", RegionLevel.COMMUNITY, s1, households=2000, kind=CommunityKind.URBAN),
        add_region("530102002001", "青云社区", RegionLevel.COMMUNITY, s2, households=1500, kind=CommunityKind.VILLAGE),
    ]
    for community in communities:
        add_site(community, "社区综合文化服务中心")
        add_site(community, "小区东门")
    db.session.flush()
    now = utcnow()
    version = versions["kunming-questionnaire"]
    targets = {c: 30 for c in communities}
    earlier = create_campaign("2025年社区治理考评 问卷调查", version, targets,
                              opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=30))
    campaign = create_campaign("2026年社区治理创新考评 问卷调查", version, targets,
                               opens_at=now - timedelta(days=7), closes_at=now + timedelta(days=30))
    db.session.flush()
    mood = {c.id: np_rng.normal(0.0, 0.6) for c in communities}
    definition = version.survey_definition
    _add_responses(earlier, definition, communities, mood, 45, rng, np_rng, now - timedelta(days=31), {})
    _add_responses(campaign, definition, communities, mood, 60, rng, np_rng, now, {})
    add_demo_scoring([campaign, earlier], surveys_dir, rng, mood)
    add_demo_margins([campaign], rng)
    set_published(earlier, True)
    tickets = issue_tickets(campaign, communities[0], 3).tickets
    _add_meeting(campaign, communities[0], now)
    create_account(World.evaluator, "考评组", PASSWORD, Role.EVALUATOR, district)
    db.session.flush()
    meeting = db.session.scalar(sa.select(Meeting))
    question = meeting.current_question
    meetings.open_voting(question, now)
    db.session.commit()
    items: dict[str, list[str]] = {}
    for item in definition.items:
        items.setdefault(item.type, []).append(item.key)
    return World(
        district=district.id, streets=[s1.id, s2.id], communities=[c.id for c in communities],
        campaign=campaign.id, earlier=earlier.id,
        site_tokens=[s.token for c in communities for s in c.sites], ticket_tokens=[t.token for t in tickets],
        join_code=meeting.join_code, question_id=question.id, option_codes=[code for code, _ in question.options],
        items=items)


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_app(request, tmp_path_factory):
    """(app, world): the app with the world in its database, its application context pushed."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        uri = f"sqlite:///{path}"
    else:
        uri = request.getfixturevalue("postgres_database")
    app = create_app(base_config(uri))
    app.test_client_class = RequestScopedClient
    with app.app_context():
        world = _build_world(app.config["SURVEYS_DIR"])
        yield app, world
        db.session.remove()
        if request.param != "sqlite":
            with db.engine.begin() as conn:
                tables = [t.name for t in db.metadata.sorted_tables]
                conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def fuzz_world(fuzz_app) -> World:
    yield fuzz_app[1]
    db.session.rollback()  # what a failed example left open must not reach the next test


def log_in(app, username: str, password: str = PASSWORD):
    """A client logged in through the staff login form, as a browser would."""
    return logged_in_client(app, username, password)
