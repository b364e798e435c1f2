"""Every staff route × every role × an object inside and outside the account's scope.

ROUTES, the route matrix, holds a row for every ``staff.*`` endpoint; a route without one
fails test_every_staff_route_has_a_row_in_the_matrix, so no page ships untested for access.

The rules the matrix spells out:

* an object outside the account's region answers 404, so an account cannot learn that it exists
  (a refusal by role alone, 403 whatever the object, may come first: it tells nothing either);
* an evaluator reads everything in its district but changes nothing (403);
* individual responses and the flag check are for roles that may exclude (admin, evaluator): 403;
* the audit log is for admin and evaluator; accounts and the region import are admin-only: 403;
* street and community staff change a campaign only if all its communities are theirs
  (a community account sees campaign A but may not close it: 403); they do their own
  community's part of it (sites, tickets, paper entry, imports).
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.models import AuditEntry, Campaign, CampaignState, Channel, PaperKeying, Response, Role, Site
from app.models.types import utcnow
from app.resident.operations import new_submission_token
from app.staff.operations import add_site, create_account, exclude_response, issue_tickets, set_account_active
from app.submissions import NewResponse, store_response
from tests.staff.conftest import PASSWORD, csrf_of

#: The acting accounts of the world (tests/staff/conftest.py), in the order of expect()'s columns:
#:
#:   admin      D1's admin         campaigns A and B, sites, batches, responses and accounts in D1
#:   street     S1 (C1, C2)        campaign A, all of it
#:   community  C1                 campaign A, its C1 part only: may not change A as a whole
#:   evaluator  D1, reads only     campaigns A and B
#:   outsider   D2's admin         campaign D in C4, and accounts in D2
ROLES = ("admin", "street", "community", "evaluator", "outsider")


@dataclass(frozen=True)
class Upload:
    """A file posted with a form; its text may name objects in braces like a path."""
    filename: str
    text: str


@dataclass(frozen=True)
class Case:
    method: str
    #: The path, naming objects in braces: see the `places` fixture.
    path: str
    #: The status each role gets.
    expected: dict[str, int]
    #: Form fields of a POST (the CSRF token is added); values may name objects in braces.
    data: dict = field(default_factory=dict)
    #: Whether an accepted request changes something (and so leaves an audit entry of the
    #: acting account). Anything else — every refusal, every GET — must change nothing at all.
    writes: bool = False
    label: str = ""


def expect(admin: int, street: int, community: int, evaluator: int, outsider: int) -> dict[str, int]:
    return dict(zip(ROLES, (admin, street, community, evaluator, outsider)))


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def get(path: str, expected: dict[str, int], label: str = "") -> Case:
    return Case("GET", path, expected, label=label)


def post(path: str, expected: dict[str, int], data: dict | None = None, *, writes: bool = True,
         label: str = "") -> Case:
    return Case("POST", path, expected, data or {}, writes, label)


NEW_CAMPAIGN = {"form_id": "{form_id}", "name": "新调查", "survey_version": "{version}", "confidence": "0.95",
                "margin": "5"}
NEW_TICKETS = {"form_id": "{form_id}", "count": "2"}
NEW_ACCOUNT = {"username": "newcomer", "display_name": "新同事", "role": "community",
               "password": "a long new password"}
PAPER = {"sat": "4", "joined": "2"}
CAMPAIGN_SETTINGS = {"name": "改过名的调查", "confidence": "0.95", "margin": "5"}
CORRECTION = {"sat": "2", "joined": "2", "reason": "核对原件"}
RESPONSES_CSV = "community_code,paper_serial,sat,joined\n{community},,4,2\n"
REGIONS_CSV = "code,name,parent_code,households,kind\n{code},{name},{parent},3100,\n"

# -- the route matrix ----------------------------------------------------------------
#
# One entry per staff endpoint, with one or more cases. To add a route, add its entry:
#
#     "staff.campaign_thing": [
#         #                                     expect(admin, street, community, evaluator, outsider)
#         get("/staff/campaigns/{A}/thing",     expect(200,  200,   200,      200,      404)),
#         get("/staff/campaigns/{B}/thing",     expect(200,  404,   404,      200,      404)),
#         get("/staff/campaigns/{D}/thing",     expect(404,  404,   404,      404,      200)),
#         post("/staff/campaigns/{A}/thing",    expect(303,  303,   403,      403,      404), {"name": "x"}),
#     ],
#
# Cover each method of the route, with an object inside every account's scope (campaign A,
# community C1) and outside it (campaign B / C3 for street and community, campaign D / C4 in the
# other district for the rest). Braces name objects of the `places` fixture: campaigns {A} {B} {D},
# communities {C1} {C2} {C3} {C4}, street {S1}, sites {site1} {site2} {site3} {site4}, ticket
# batches {batch_A1} {batch_A2} {batch_B} {batch_D}, responses {response_A} {response_A_excluded}
# {response_B} {response_D} (residents' own) and {paper_A} {paper_B} {paper_D} (typed in), the first
# keyings of papers whose two keyings differ {keying_A} {keying_B} {keying_D}, accounts {clerk_C1} {retired_C1} {clerk_C4} {retired_C4}, the survey
# version {version}, the acting account's username {me}, and tokens a shown form carries, fresh
# for each request: {form_id}, and the paper-entry {submission_A} (also _B, _D). A new object
# goes into the `places` fixture.
#
# Each case is one test, run as every role in turn against the same world (what one role
# changes is undone before the next), and once more without logging in (302 to the login page).
# A POST counts as a write unless writes=False: accepted, it must leave an audit entry of the
# acting account; refused (4xx), it must change no row of any table. GETs change nothing.

ROUTES: dict[str, list[Case]] = {
    # expect(admin, street, community, evaluator, outsider): the status each role gets.
    # -- logging in and out ---------------------------------------------------------
    "staff.login": [
        get("/staff/login",                everyone(200)),
        post("/staff/login",               everyone(303), {"username": "{me}", "password": PASSWORD},
             label="log in again"),
        post("/staff/login",               everyone(401), {"username": "{me}", "password": "not my password"},
             writes=False, label="wrong password"),
    ],
    "staff.logout": [
        post("/staff/logout",              everyone(303), writes=False),
    ],
    "staff.home": [
        get("/staff/",                     everyone(200)),
    ],
    # -- campaigns ------------------------------------------------------------------
    "staff.campaign": [
        get("/staff/campaigns/{A}",              expect(200, 200, 200, 200, 404)),
        get("/staff/campaigns/{B}",              expect(200, 404, 404, 200, 404)),
        get("/staff/campaigns/{D}",              expect(404, 404, 404, 404, 200)),
        get("/staff/campaigns/2147483647",       everyone(404), label="no such campaign"),
    ],
    "staff.campaign_state": [
        post("/staff/campaigns/{A}/close",       expect(303, 303, 403, 403, 404)),
        post("/staff/campaigns/{B}/close",       expect(303, 404, 404, 403, 404)),
        post("/staff/campaigns/{D}/close",       expect(404, 404, 404, 403, 303)),
        post("/staff/campaigns/{A}/open",        expect(303, 303, 403, 403, 404), writes=False,
             label="open an open campaign: nothing to do"),
    ],
    "staff.edit_campaign": [
        get("/staff/campaigns/{A}/edit",         expect(200, 200, 403, 403, 404)),
        get("/staff/campaigns/{B}/edit",         expect(200, 404, 404, 403, 404)),
        get("/staff/campaigns/{D}/edit",         expect(404, 404, 404, 403, 200)),
        post("/staff/campaigns/{A}/edit",        expect(303, 303, 403, 403, 404), CAMPAIGN_SETTINGS),
        post("/staff/campaigns/{B}/edit",        expect(303, 404, 404, 403, 404), CAMPAIGN_SETTINGS),
        post("/staff/campaigns/{D}/edit",        expect(404, 404, 404, 403, 303), CAMPAIGN_SETTINGS),
    ],
    "staff.new_campaign": [
        get("/staff/campaigns/new",              expect(200, 200, 200, 403, 200)),
        post("/staff/campaigns/new",             expect(303, 303, 303, 403, 400),
             NEW_CAMPAIGN | {"communities": ["{C1}"]}, label="in C1"),
        post("/staff/campaigns/new",             expect(303, 400, 400, 403, 400),
             NEW_CAMPAIGN | {"communities": ["{C3}"]}, label="in C3"),
        post("/staff/campaigns/new",             expect(400, 400, 400, 403, 303),
             NEW_CAMPAIGN | {"communities": ["{C4}"]}, label="in C4"),
    ],
    # -- sites and printing ---------------------------------------------------------
    "staff.sites": [
        get("/staff/communities/{C1}/sites",     expect(200, 200, 200, 200, 404)),
        get("/staff/communities/{C3}/sites",     expect(200, 404, 404, 200, 404)),
        get("/staff/communities/{C4}/sites",     expect(404, 404, 404, 404, 200)),
        get("/staff/communities/{S1}/sites",     everyone(404), label="a street is no community"),
        post("/staff/communities/{C1}/sites",    expect(303, 303, 303, 403, 404), {"name": "新考评点", "form_id": "{form_id}"}),
        post("/staff/communities/{C3}/sites",    expect(303, 404, 404, 403, 404), {"name": "新考评点", "form_id": "{form_id}"}),
        post("/staff/communities/{C4}/sites",    expect(404, 404, 404, 404, 303), {"name": "新考评点", "form_id": "{form_id}"}),
    ],
    "staff.rename_site": [
        post("/staff/sites/{site1}/name",        expect(303, 303, 303, 403, 404), {"name": "新名字"}),
        post("/staff/sites/{site2}/name",        expect(303, 303, 404, 403, 404), {"name": "新名字"}),
        post("/staff/sites/{site3}/name",        expect(303, 404, 404, 403, 404), {"name": "新名字"}),
        post("/staff/sites/{site4}/name",        expect(404, 404, 404, 403, 303), {"name": "新名字"}),
    ],
    "staff.site_in_use": [
        post("/staff/sites/{site1}/retire",      expect(303, 303, 303, 403, 404)),
        post("/staff/sites/{site3}/retire",      expect(303, 404, 404, 403, 404)),
        post("/staff/sites/{site4}/retire",      expect(404, 404, 404, 403, 303)),
        post("/staff/sites/{site1}/restore",     expect(303, 303, 303, 403, 404), writes=False,
             label="restore a site in use: nothing to do"),
    ],
    "staff.posters": [
        get("/staff/campaigns/{A}/posters",      expect(200, 200, 200, 200, 404)),
        get("/staff/campaigns/{B}/posters",      expect(200, 404, 404, 200, 404)),
        get("/staff/campaigns/{D}/posters",      expect(404, 404, 404, 404, 200)),
    ],
    "staff.posters_pdf": [
        get("/staff/campaigns/{A}/posters.pdf",  expect(200, 200, 200, 200, 404)),
        get("/staff/campaigns/{B}/posters.pdf",  expect(200, 404, 404, 200, 404)),
        get("/staff/campaigns/{D}/posters.pdf",  expect(404, 404, 404, 404, 200)),
    ],
    "staff.poster": [
        get("/staff/campaigns/{A}/sites/{site1}/poster", expect(200, 200, 200, 200, 404)),
        get("/staff/campaigns/{A}/sites/{site2}/poster", expect(200, 200, 404, 200, 404), label="C2's site"),
        get("/staff/campaigns/{B}/sites/{site3}/poster", expect(200, 404, 404, 200, 404)),
        get("/staff/campaigns/{D}/sites/{site4}/poster", expect(404, 404, 404, 404, 200)),
        get("/staff/campaigns/{A}/sites/{site3}/poster", everyone(404), label="a site of another campaign"),
        get("/staff/campaigns/{D}/sites/{site1}/poster", everyone(404), label="a site of another district"),
    ],
    "staff.tickets": [
        get("/staff/campaigns/{A}/tickets",      expect(200, 200, 200, 200, 404)),
        get("/staff/campaigns/{B}/tickets",      expect(200, 404, 404, 200, 404)),
        get("/staff/campaigns/{D}/tickets",      expect(404, 404, 404, 404, 200)),
        post("/staff/campaigns/{A}/tickets",     expect(303, 303, 303, 403, 404),
             NEW_TICKETS | {"community": "{C1}"}, label="for C1"),
        post("/staff/campaigns/{A}/tickets",     expect(303, 303, 400, 403, 404),
             NEW_TICKETS | {"community": "{C2}"}, label="for C2"),
        post("/staff/campaigns/{B}/tickets",     expect(303, 404, 404, 403, 404),
             NEW_TICKETS | {"community": "{C3}"}),
        post("/staff/campaigns/{D}/tickets",     expect(404, 404, 404, 404, 303),
             NEW_TICKETS | {"community": "{C4}"}),
    ],
    "staff.ticket_batch_pdf": [
        get("/staff/ticket-batches/{batch_A1}.pdf", expect(200, 200, 200, 200, 404), label="A, C1"),
        get("/staff/ticket-batches/{batch_A2}.pdf", expect(200, 200, 404, 200, 404), label="A, C2"),
        get("/staff/ticket-batches/{batch_B}.pdf",  expect(200, 404, 404, 200, 404), label="B, C3"),
        get("/staff/ticket-batches/{batch_D}.pdf",  expect(404, 404, 404, 404, 200), label="D, C4"),
    ],
    # -- responses: imported, typed in, checked, excluded --------------------------
    "staff.import_responses": [
        get("/staff/campaigns/{A}/import",       expect(200, 200, 200, 403, 404)),
        get("/staff/campaigns/{B}/import",       expect(200, 404, 404, 403, 404)),
        get("/staff/campaigns/{D}/import",       expect(404, 404, 404, 403, 200)),
        post("/staff/campaigns/{A}/import",      expect(303, 303, 303, 403, 404),
             {"file": Upload("answers.csv", RESPONSES_CSV.format(community="C1"))}, label="rows of C1"),
        post("/staff/campaigns/{A}/import",      expect(303, 303, 400, 403, 404),
             {"file": Upload("answers.csv", RESPONSES_CSV.format(community="C2"))}, label="rows of C2"),
        post("/staff/campaigns/{B}/import",      expect(303, 404, 404, 403, 404),
             {"file": Upload("answers.csv", RESPONSES_CSV.format(community="C3"))}),
        post("/staff/campaigns/{D}/import",      expect(404, 404, 404, 403, 303),
             {"file": Upload("answers.csv", RESPONSES_CSV.format(community="C4"))}),
    ],
    "staff.import_template": [
        get("/staff/campaigns/{A}/import/template.xlsx", expect(200, 200, 200, 200, 404)),
        get("/staff/campaigns/{B}/import/template.xlsx", expect(200, 404, 404, 200, 404)),
        get("/staff/campaigns/{D}/import/template.xlsx", expect(404, 404, 404, 404, 200)),
    ],
    "staff.paper_entry": [
        get("/staff/campaigns/{A}/paper",        expect(200, 200, 200, 403, 404)),
        get("/staff/campaigns/{B}/paper",        expect(200, 404, 404, 403, 404)),
        get("/staff/campaigns/{D}/paper",        expect(404, 404, 404, 403, 200)),
        post("/staff/campaigns/{A}/paper",       expect(303, 303, 303, 403, 404),
             PAPER | {"community": "{C1}", "submission": "{submission_A}"}, label="for C1"),
        post("/staff/campaigns/{A}/paper",       expect(303, 303, 400, 403, 404),
             PAPER | {"community": "{C2}", "submission": "{submission_A}"}, label="for C2"),
        post("/staff/campaigns/{B}/paper",       expect(303, 404, 404, 403, 404),
             PAPER | {"community": "{C3}", "submission": "{submission_B}"}),
        post("/staff/campaigns/{D}/paper",       expect(404, 404, 404, 403, 303),
             PAPER | {"community": "{C4}", "submission": "{submission_D}"}),
    ],
    "staff.paper_waiting": [
        get("/staff/campaigns/{A}/paper/waiting", expect(200, 200, 200, 403, 404)),
        get("/staff/campaigns/{B}/paper/waiting", expect(200, 404, 404, 403, 404)),
        get("/staff/campaigns/{D}/paper/waiting", expect(404, 404, 404, 403, 200)),
    ],
    "staff.paper_settle": [
        get("/staff/campaigns/{A}/paper/settle/{keying_A}", expect(200, 200, 200, 403, 404)),
        get("/staff/campaigns/{B}/paper/settle/{keying_B}", expect(200, 404, 404, 403, 404)),
        get("/staff/campaigns/{D}/paper/settle/{keying_D}", expect(404, 404, 404, 403, 200)),
        get("/staff/campaigns/{A}/paper/settle/{keying_B}", expect(404, 404, 404, 403, 404),
            label="a paper of another campaign"),
        post("/staff/campaigns/{A}/paper/settle/{keying_A}", expect(303, 303, 303, 403, 404),
             PAPER | {"submission": "{submission_A}"}),
        post("/staff/campaigns/{B}/paper/settle/{keying_B}", expect(303, 404, 404, 403, 404),
             PAPER | {"submission": "{submission_B}"}),
        post("/staff/campaigns/{D}/paper/settle/{keying_D}", expect(404, 404, 404, 403, 303),
             PAPER | {"submission": "{submission_D}"}),
    ],
    "staff.correct_response": [
        get("/staff/responses/{paper_A}/correct",    expect(200, 403, 403, 403, 404)),
        get("/staff/responses/{paper_B}/correct",    expect(200, 403, 403, 403, 404)),
        get("/staff/responses/{paper_D}/correct",    expect(404, 403, 403, 403, 200)),
        get("/staff/responses/{response_A}/correct", expect(403, 403, 403, 403, 404),
            label="a resident's own answers"),
        post("/staff/responses/{paper_A}/correct",   expect(303, 403, 403, 403, 404), CORRECTION),
        post("/staff/responses/{paper_B}/correct",   expect(303, 403, 403, 403, 404), CORRECTION),
        post("/staff/responses/{paper_D}/correct",   expect(404, 403, 403, 403, 303), CORRECTION),
    ],
    "staff.check_quality": [
        post("/staff/campaigns/{A}/quality",     expect(303, 403, 403, 303, 404)),
        post("/staff/campaigns/{B}/quality",     expect(303, 403, 403, 303, 404)),
        post("/staff/campaigns/{D}/quality",     expect(404, 403, 403, 404, 303)),
    ],
    "staff.campaign_responses": [
        get("/staff/campaigns/{A}/responses",    expect(200, 403, 403, 200, 404)),
        get("/staff/campaigns/{B}/responses",    expect(200, 403, 403, 200, 404)),
        get("/staff/campaigns/{D}/responses",    expect(404, 403, 403, 404, 200)),
    ],
    "staff.response_detail": [
        get("/staff/responses/{response_A}",     expect(200, 403, 403, 200, 404)),
        get("/staff/responses/{response_B}",     expect(200, 403, 403, 200, 404)),
        get("/staff/responses/{response_D}",     expect(404, 403, 403, 404, 200)),
    ],
    "staff.response_exclusion": [
        post("/staff/responses/{response_A}/exclude",          expect(303, 403, 403, 303, 404), {"reason": "重复填写"}),
        post("/staff/responses/{response_A_excluded}/include", expect(303, 403, 403, 303, 404)),
        post("/staff/responses/{response_B}/exclude",          expect(303, 403, 403, 303, 404), {"reason": "重复填写"}),
        post("/staff/responses/{response_D}/exclude",          expect(404, 403, 403, 404, 303), {"reason": "重复填写"}),
    ],
    # -- regions --------------------------------------------------------------------
    "staff.regions": [
        get("/staff/regions",                    everyone(200)),
    ],
    "staff.regions_template": [
        get("/staff/regions/template.xlsx",      expect(200, 403, 403, 403, 200)),
    ],
    "staff.import_regions": [
        post("/staff/regions/import",            expect(303, 403, 403, 403, 400),
             {"file": Upload("regions.csv", REGIONS_CSV.format(code="C1", name="翠湖社区", parent="S1"))},
             label="a community of D1"),
        post("/staff/regions/import",            expect(400, 403, 403, 403, 303),
             {"file": Upload("regions.csv", REGIONS_CSV.format(code="C4", name="苏铁社区", parent="S3"))},
             label="a community of D2"),
    ],
    # -- accounts and the audit log -------------------------------------------------
    "staff.accounts": [
        get("/staff/accounts",                   expect(200, 403, 403, 403, 200)),
        post("/staff/accounts",                  expect(303, 403, 403, 403, 400),
             NEW_ACCOUNT | {"region": "{C1}"}, label="an account in C1"),
        post("/staff/accounts",                  expect(400, 403, 403, 403, 303),
             NEW_ACCOUNT | {"region": "{C4}"}, label="an account in C4"),
    ],
    "staff.account_active": [
        post("/staff/accounts/{clerk_C1}/disable",  expect(303, 403, 403, 403, 404)),
        post("/staff/accounts/{retired_C1}/enable", expect(303, 403, 403, 403, 404)),
        post("/staff/accounts/{clerk_C4}/disable",  expect(404, 403, 403, 403, 303)),
        post("/staff/accounts/{retired_C4}/enable", expect(404, 403, 403, 403, 303)),
    ],
    "staff.account_password": [
        post("/staff/accounts/{clerk_C1}/password", expect(303, 403, 403, 403, 404), {"password": "a brand new password"}),
        post("/staff/accounts/{clerk_C4}/password", expect(404, 403, 403, 403, 303), {"password": "a brand new password"}),
    ],
    "staff.audit_log": [
        get("/staff/audit",                      expect(200, 403, 403, 200, 200)),
    ],
    "staff.audit_csv": [
        get("/staff/audit.csv",                  expect(200, 403, 403, 200, 200)),
    ],
}

ALL_CASES = [(endpoint, case) for endpoint, cases in ROUTES.items() for case in cases]


def _case_id(endpoint: str, case: Case) -> str:
    return f"{endpoint} {case.method} {case.path}" + (f" ({case.label})" if case.label else "")


# -- the objects the matrix names -----------------------------------------------------

class Places:
    """What the braces in a path or a form value stand for (see ROUTES)."""

    def __init__(self, ids: dict[str, int], secret: str, me: str = ""):
        self.ids, self.secret, self.me = ids, secret, me

    def as_account(self, username: str) -> Places:
        return Places(self.ids, self.secret, username)

    def __getitem__(self, name: str):
        if name == "me":
            return self.me
        # Made when a form is shown: a fresh one for each request.
        if name.startswith("submission_"):
            return new_submission_token(self.secret, self.ids[name.removeprefix("submission_")])
        if name == "form_id":
            return uuid.uuid4().hex
        return self.ids[name]

    def fill(self, value):
        if isinstance(value, str):
            return value.format_map(self)
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, Upload):
            return io.BytesIO(value.text.format_map(self).encode("utf-8-sig")), value.filename
        return value


def add_response(campaign: Campaign, community, channel: Channel = Channel.QR) -> Response:
    store_response(NewResponse(
        campaign_id=campaign.id, community_id=community.id, channel=channel, submission_id=uuid.uuid4().hex,
        submitted_at=utcnow(), answers=[("sat", ("4", None, None)), ("joined", ("2", None, None))]))
    return db.session.scalar(sa.select(Response).order_by(Response.id.desc()).limit(1))


def add_differing_keyings(campaign: Campaign, community, first_by, second_by) -> PaperKeying:
    """A paper keyed twice, the two keyings differing: waiting to be settled. Returns the first."""
    keyings = [PaperKeying(campaign_id=campaign.id, community_id=community.id, paper_serial="0007", pass_number=n,
                           entered_by_id=account.id, submission_id=uuid.uuid4().hex,
                           answers=[["sat", sat, None, None], ["joined", "2", None, None]])
               for n, account, sat in ((1, first_by, "4"), (2, second_by, "3"))]
    db.session.add_all(keyings)
    db.session.flush()
    return keyings[0]


@pytest.fixture
def places(app, world, make) -> Places:
    """The world of conftest.py, plus an object on each side of every boundary: campaign D in the
    other district (C4), a site, a ticket batch and a response wherever the matrix needs one, and
    accounts to disable, enable and reset in D1 and D2."""
    regions, admin, outsider = world.regions, world.accounts["admin"], world.accounts["outsider"]
    campaigns = world.campaigns | {"D": make.campaign(communities=[regions["C4"]], name="丁调查")}
    sites = world.sites | {"site2": add_site(regions["C2"], "文林广场"), "site4": add_site(regions["C4"], "苏铁广场")}
    batches = {"batch_A1": issue_tickets(campaigns["A"], regions["C1"], 2, actor=admin),
               "batch_A2": issue_tickets(campaigns["A"], regions["C2"], 2, actor=admin),
               "batch_B": issue_tickets(campaigns["B"], regions["C3"], 2, actor=admin),
               "batch_D": issue_tickets(campaigns["D"], regions["C4"], 2, actor=outsider)}
    accounts = {f"{name}_{code}": create_account(f"{name}_{code.lower()}", "文书", PASSWORD, Role.COMMUNITY,
                                                 regions[code], actor=admin if code == "C1" else outsider)
                for name in ("clerk", "retired") for code in ("C1", "C4")}
    for code in ("C1", "C4"):
        set_account_active(accounts[f"retired_{code}"], False, actor=admin if code == "C1" else outsider)
    db.session.commit()
    responses = {"response_A": add_response(campaigns["A"], regions["C1"]),
                 "response_A_excluded": add_response(campaigns["A"], regions["C1"]),
                 "response_B": add_response(campaigns["B"], regions["C3"]),
                 "response_D": add_response(campaigns["D"], regions["C4"])}
    exclude_response(responses["response_A_excluded"], "工作人员代填", actor=admin)
    responses |= {f"paper_{name}": add_response(campaigns[name], regions[code], Channel.PAPER)
                  for name, code in (("A", "C1"), ("B", "C3"), ("D", "C4"))}
    # Keyed by clerks, so that every acting role is a third person who may settle them.
    keyings = {"keying_A": add_differing_keyings(campaigns["A"], regions["C1"], accounts["clerk_C1"],
                                                 accounts["retired_C1"]),
               "keying_B": add_differing_keyings(campaigns["B"], regions["C3"], accounts["clerk_C1"],
                                                 accounts["retired_C1"]),
               "keying_D": add_differing_keyings(campaigns["D"], regions["C4"], accounts["clerk_C4"],
                                                 accounts["retired_C4"])}
    db.session.commit()
    ids = {name: obj.id for group in (regions, campaigns, sites, batches, accounts, responses, keyings)
           for name, obj in group.items()}
    ids["version"] = campaigns["A"].survey_version_id
    return Places(ids, app.config["SECRET_KEY"])


Rows = dict[str, list[sa.Row]]


def database_rows() -> Rows:
    """Every row of every table."""
    # What a request left uncommitted is thrown away when a real request ends; so here.
    db.session.rollback()
    return {table.name: db.session.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            for table in db.metadata.sorted_tables}


def changed_tables(before: Rows, after: Rows) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def restore(before: Rows, after: Rows) -> None:
    """Put every table back from `after` to `before`, so the next role meets the same world."""
    def by_key(table, rows):
        return {tuple(row._mapping[c] for c in table.primary_key.columns): row._asdict() for row in rows}

    def where_key(table, key):
        return sa.and_(*(column == value for column, value in zip(table.primary_key.columns, key)))

    tables = [t for t in db.metadata.sorted_tables if before[t.name] != after[t.name]]  # parents first
    rows = {t.name: (by_key(t, before[t.name]), by_key(t, after[t.name])) for t in tables}
    # Changed rows first (a row may have been pointed at a new one, e.g. a keying at its response),
    # then new rows away (children first), then removed rows back (parents first).
    for table in tables:
        old, new = rows[table.name]
        for key in old.keys() & new.keys():
            if new[key] != old[key]:
                db.session.execute(table.update().where(where_key(table, key)).values(old[key]))
    for table in reversed(tables):
        old, new = rows[table.name]
        for key in sorted(new.keys() - old.keys(), reverse=True):  # a newer row may refer to an older one
            db.session.execute(table.delete().where(where_key(table, key)))
    for table in tables:
        old, new = rows[table.name]
        for key in sorted(old.keys() - new.keys()):
            db.session.execute(table.insert().values(old[key]))
    db.session.commit()
    db.session.expire_all()


def send(client, case: Case, places: Places):
    path = case.path.format_map(places)
    if case.method == "GET":
        return client.get(path)
    data = {name: places.fill(value) for name, value in case.data.items()}
    return client.post(path, data=data | {"csrf_token": csrf_of(client, "/staff/login")})


# -- the tests ---------------------------------------------------------------------

def test_every_staff_route_has_a_row_in_the_matrix(app):
    methods: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("staff.") and rule.endpoint != "staff.static":
            methods.setdefault(rule.endpoint, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    missing = sorted(methods.keys() - ROUTES.keys())
    assert not missing, ("staff routes without a row in the route matrix (ROUTES in tests/staff/test_access.py): "
                         + ", ".join(missing))
    gone = sorted(ROUTES.keys() - methods.keys())
    assert not gone, "rows of the route matrix for routes that no longer exist: " + ", ".join(gone)
    untried = sorted(f"{method} {endpoint}" for endpoint, route_methods in methods.items()
                     for method in route_methods if not any(case.method == method for case in ROUTES[endpoint]))
    assert not untried, "methods of staff routes that no case of the route matrix tries: " + ", ".join(untried)


class AnyId(dict):
    def __missing__(self, name):
        return "1"


def test_every_case_of_the_matrix_reaches_its_own_route(app):
    adapter = app.url_map.bind("minyi.test")
    wrong = []
    for endpoint, case in ALL_CASES:
        try:
            reached = adapter.match(case.path.format_map(AnyId()), method=case.method)[0]
        except HTTPException as e:
            reached = repr(e)
        if reached != endpoint:
            wrong.append(f"{_case_id(endpoint, case)} reaches {reached}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("endpoint, case", [pytest.param(endpoint, case, id=_case_id(endpoint, case))
                                            for endpoint, case in ALL_CASES])
def test_route_by_role_and_scope(as_role, world, places, endpoint, case):
    """One case for every role: each meets the same world (a change one makes is undone before the next)."""
    clients = {role: as_role(role) for role in ROLES}  # logging in writes audit entries: look after it
    statuses, problems = {}, []
    for role in ROLES:
        account = world.accounts[role]
        before = database_rows()
        response = send(clients[role], case, places.as_account(account.username))
        after = database_rows()
        statuses[role] = response.status_code
        if case.writes and response.status_code < 400:
            known = {row.id for row in before[AuditEntry.__tablename__]}
            if not any(row.account_id == account.id for row in after[AuditEntry.__tablename__] if row.id not in known):
                problems.append(f"{role}: accepted ({response.status_code}) but left no audit entry")
        elif changed := changed_tables(before, after):
            problems.append(f"{role}: {response.status_code}, and yet it changed {', '.join(changed)}")
        if after != before:
            restore(before, after)
            assert database_rows() == before, "the world could not be put back for the next role"
    assert statuses == case.expected
    assert not problems


def test_anonymous_visitors_are_sent_to_log_in(client, places):
    """Every case of the matrix but logging in itself, without logging in: sent to the login page, nothing changed."""
    wrong = []
    for endpoint, case in ALL_CASES:
        if endpoint == "staff.login":
            continue
        before = database_rows()
        response = send(client, case, places)
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not location.startswith("/staff/login"):
            wrong.append(f"{_case_id(endpoint, case)}: {response.status_code} {location}")
        elif changed := changed_tables(before, database_rows()):
            wrong.append(f"{_case_id(endpoint, case)}: changed {', '.join(changed)}")
    assert not wrong, "\n".join(wrong)


def test_community_staff_see_only_their_community_of_a_shared_campaign(as_role, world):
    html = as_role("community").get(f"/staff/campaigns/{world.campaigns['A'].id}").get_data(as_text=True)
    assert "翠湖社区" in html and "文林社区" not in html
    html = as_role("street").get(f"/staff/campaigns/{world.campaigns['A'].id}").get_data(as_text=True)
    assert "翠湖社区" in html and "文林社区" in html


def test_the_campaign_list_holds_only_campaigns_in_scope(as_role, world):
    assert "乙调查" not in as_role("street").get("/staff/").get_data(as_text=True)
    admin = as_role("admin").get("/staff/").get_data(as_text=True)
    assert "甲调查" in admin and "乙调查" in admin
    assert "甲调查" not in as_role("outsider").get("/staff/").get_data(as_text=True)


def test_a_campaign_cannot_be_made_in_a_community_outside_scope(as_role, world):
    client = as_role("street")
    version_id = world.campaigns["A"].survey_version_id
    response = client.post("/staff/campaigns/new", data={
        "csrf_token": csrf_of(client, "/staff/"), "name": "越界", "survey_version": version_id,
        "communities": [world.regions["C3"].id], "confidence": "0.95", "margin": "5"})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Campaign.id)).where(Campaign.name == "越界")) == 0


def test_a_new_campaign_gets_cochran_targets_and_is_audited(as_role, world):
    from app.analysis.sampling import cochran_sample_size
    client = as_role("street")
    version_id = world.campaigns["A"].survey_version_id
    response = client.post("/staff/campaigns/new", data={
        "csrf_token": csrf_of(client, "/staff/"), "name": "新调查", "survey_version": version_id,
        "communities": [world.regions["C1"].id, world.regions["C2"].id], "confidence": "0.99", "margin": "4",
        "opens_at": "2026-12-01T09:00", "closes_at": "2026-12-20T18:00"})
    assert response.status_code == 303
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name == "新调查"))
    targets = {cc.community.code: cc.target_sample for cc in campaign.communities}
    assert targets == {"C1": cochran_sample_size(3000, confidence=0.99, margin=0.04),
                       "C2": cochran_sample_size(2000, confidence=0.99, margin=0.04)}
    # 09:00 China time is 01:00 UTC.
    assert campaign.opens_at.isoformat() == "2026-12-01T01:00:00+00:00"
    assert (campaign.confidence, campaign.margin) == (0.99, 0.04)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "campaign",
                                                          AuditEntry.object_id == str(campaign.id)))
    assert entry.action == "create" and entry.account.username == "street"
    assert entry.after["targets"] == targets and entry.after["name"] == "新调查"


@pytest.mark.parametrize("field, value, words", [
    ("name", "", "请填写调查名称"),
    ("margin", "0", "允许误差请填 1 到 20"),
    ("closes_at", "2026-11-30T09:00", "结束时间要晚于开始时间"),
    ("communities", [], "请至少选一个社区"),
])
def test_a_bad_campaign_form_says_what_is_wrong(as_role, world, field, value, words):
    client = as_role("admin")
    data = {"csrf_token": csrf_of(client, "/staff/"), "name": "调查", "confidence": "0.95", "margin": "5",
            "survey_version": world.campaigns["A"].survey_version_id, "communities": [world.regions["C1"].id],
            "opens_at": "2026-12-01T09:00"}
    data[field] = value
    response = client.post("/staff/campaigns/new", data=data)
    assert response.status_code == 400 and words in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Campaign.id))) == 2


def test_closing_and_opening_are_audited_with_before_and_after(as_role, world):
    client = as_role("admin")
    campaign_id = world.campaigns["A"].id
    token = csrf_of(client, "/staff/")
    assert client.post(f"/staff/campaigns/{campaign_id}/close", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).state is CampaignState.CLOSED
    assert client.post(f"/staff/campaigns/{campaign_id}/open", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).state is CampaignState.OPEN
    entries = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.object_type == "campaign", AuditEntry.object_id == str(campaign_id),
        AuditEntry.action.in_(["open", "close"])).order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["close", "open"]
    assert entries[0].before["closes_at"] != entries[0].after["closes_at"]
    assert entries[1].after["closes_at"] is None
    assert {e.account.username for e in entries} == {"admin"}


def test_a_site_added_on_the_page_is_audited(as_role, world):
    client = as_role("community")
    response = client.post(f"/staff/communities/{world.regions['C1'].id}/sites",
                           data={"csrf_token": csrf_of(client, "/staff/"), "form_id": uuid.uuid4().hex,
                                 "name": "菜市场门口"})
    assert response.status_code == 303
    site = db.session.scalar(sa.select(Site).where(Site.name == "菜市场门口"))
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "site",
                                                          AuditEntry.object_id == str(site.id)))
    assert entry.action == "create" and entry.account.username == "community"


def test_staff_posts_need_a_csrf_token(as_role, world):
    client = as_role("admin")
    response = client.post(f"/staff/campaigns/{world.campaigns['A'].id}/close")
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Campaign, world.campaigns["A"].id).state is CampaignState.OPEN


def test_the_audit_log_shows_actions_within_the_region_and_exports_to_csv(as_role, world):
    import csv
    import io
    street = as_role("street")
    street.post(f"/staff/campaigns/{world.campaigns['A'].id}/close", data={"csrf_token": csrf_of(street, "/staff/")})
    admin_page = as_role("admin").get("/staff/audit").get_data(as_text=True)
    assert "<td>街道</td>" in admin_page and "<td>结束</td>" in admin_page
    # The other district's admin sees none of it (结束 is also a choice of the page's filter).
    assert "<td>结束</td>" not in as_role("outsider").get("/staff/audit").get_data(as_text=True)
    exported = as_role("evaluator").get("/staff/audit.csv")
    assert exported.data.startswith("\ufeff".encode()) and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["时间（北京时间）", "账号", "姓名", "操作"]
    close = next(row for row in rows if row[3] == "结束")
    assert close[1] == "street" and close[4] == "调查" and close[5] == str(world.campaigns["A"].id)
    assert '"closes_at"' in close[6] and '"closes_at"' in close[7]
