"""Regression tests for what the independent review of the staff console found."""

from __future__ import annotations


import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Campaign, Region, Response
from tests.staff.conftest import PASSWORD, csrf_of
from tests.staff.test_imports import HEADER, upload as upload_responses
from tests.staff.test_paper_entry import PAPER, enter
from tests.staff.test_regions_import import upload as upload_regions


@pytest.mark.parametrize("field", ["username", "password"])
def test_a_nul_byte_at_login_is_a_400_not_a_500(client, world, field):
    data = {"csrf_token": csrf_of(client), "username": "admin", "password": PASSWORD}
    data[field] = data[field] + "\x00"
    assert client.post("/staff/login", data=data).status_code == 400


@pytest.mark.parametrize("path, data", [
    ("/staff/campaigns/new", {"name": "调\x00查"}),
    ("/staff/communities/{C1}/sites", {"name": "点\x00"}),
])
def test_a_nul_byte_in_a_staff_form_is_refused(as_role, world, path, data):
    client = as_role("admin")
    response = client.post(path.format(C1=world.regions["C1"].id), data={"csrf_token": csrf_of(client, "/staff/"), **data})
    assert response.status_code == 400


def test_next_with_a_line_break_lands_on_the_home_page(client, world):
    response = client.post("/staff/login?next=/staff/%0d%0aX", data={
        "csrf_token": csrf_of(client), "username": "admin", "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/staff/"


def test_a_year_one_date_is_refused_kindly(as_role, world):
    client = as_role("admin")
    response = client.post("/staff/campaigns/new", data={
        "csrf_token": csrf_of(client, "/staff/"), "form_id": "0" * 32, "name": "调查", "survey_version": world.campaigns["A"].survey_version_id,
        "communities": [world.regions["C1"].id], "confidence": "0.95", "margin": "5", "opens_at": "0001-01-01T00:00"})
    assert response.status_code == 400 and "2000 到 2100" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Campaign.id))) == 2


def test_each_community_numbers_its_own_papers(as_role, world):
    client = as_role("street")
    assert enter(client, world, community="C1", **dict(PAPER, paper_serial="A001")).status_code == 303
    assert enter(client, world, community="C2", **dict(PAPER, paper_serial="A001")).status_code == 303
    assert enter(client, world, community="C2", **dict(PAPER, paper_serial="A001")).status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 2


def test_an_import_with_trailing_blank_columns_is_read(as_role, world):
    body = (HEADER + ",,\nC1,p1,4,2,,,,,,\n").encode("utf-8-sig")
    assert upload_responses(as_role("street"), world.campaigns["A"].id, body).status_code == 303


def test_a_region_import_with_empty_cells_keeps_what_is_there(as_role, world):
    from app.models import CommunityKind
    world.regions["C1"].kind = CommunityKind.VILLAGE
    db.session.commit()
    assert upload_regions(as_role("admin"), "code,name,parent_code\nC1,翠湖社区,S1\n").status_code == 303
    db.session.expire_all()
    community = db.session.scalar(sa.select(Region).where(Region.code == "C1"))
    assert (community.households, community.kind) == (3000, CommunityKind.VILLAGE)


@pytest.mark.parametrize("rows, words", [
    ("Z5,新街道,D1,,\nZ5,重复,D1,,\n", "和第 2 行的代码重复"),
    ("C95,社区,S1,²,城市社区\n", "户数请填一个整数"),
])
def test_a_region_file_with_a_repeated_code_or_odd_digits_is_refused(as_role, world, rows, words):
    response = upload_regions(as_role("admin"), "code,name,parent_code,households,kind\n" + rows)
    assert response.status_code == 400 and words in response.get_data(as_text=True)


def test_posters_of_communities_without_sites_explain_instead_of_an_empty_pdf(as_role, world, make):
    empty = make.campaign(communities=[world.regions["C2"]], name="无考评点")  # C2 has no site
    db.session.commit()
    response = as_role("admin").get(f"/staff/campaigns/{empty.id}/posters.pdf")
    assert response.status_code == 303 and response.headers["Location"].endswith("/posters")


def test_an_import_file_larger_than_the_form_limit_is_accepted(as_role, world):
    rows = "".join(f"C1,s{i},4,2,,,,{'长' * 30}\n" for i in range(12_000))
    body = (HEADER + "\n" + rows).encode("utf-8-sig")
    assert len(body) > 512 * 1024
    client = as_role("street")
    # The multipart body is built here: Werkzeug's test client would spool a body this large
    # into a temporary file that it never closes (a test-harness leak, not the app's).
    boundary = "minyi-test-boundary"
    payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
               f"{csrf_of(client, '/staff/')}\r\n--{boundary}\r\nContent-Disposition: form-data; "
               f"name=\"file\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode() + body + \
        f"\r\n--{boundary}--\r\n".encode()
    response = client.post(f"/staff/campaigns/{world.campaigns['A'].id}/import", data=payload,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 12_000
