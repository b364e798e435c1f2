"""A small world for the staff tests: two districts, accounts of every role, two campaigns.

    D1 五华区 ── S1 华山街道 ── C1 翠湖社区 (site1), C2 文林社区
            └─ S2 护国街道 ── C3 青云社区 (site3)
    D2 西区   ── S3 河门口街道 ── C4 苏铁社区

    campaign A: C1, C2      campaign B: C3
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from app.extensions import db
from app.models import Account, Campaign, Region, RegionLevel, Role, Site
from app.staff.operations import add_region, add_site, create_account

PASSWORD = "correct horse battery"


@dataclass
class World:
    regions: dict[str, Region]
    accounts: dict[str, Account]
    campaigns: dict[str, Campaign]
    sites: dict[str, Site]


@pytest.fixture
def world(app, make) -> World:
    d1 = add_region("D1", "五华区", RegionLevel.DISTRICT)
    s1 = add_region("S1", "华山街道", RegionLevel.STREET, d1)
    s2 = add_region("S2", "护国街道", RegionLevel.STREET, d1)
    c1 = add_region("C1", "翠湖社区", RegionLevel.COMMUNITY, s1, households=3000)
    c2 = add_region("C2", "文林社区", RegionLevel.COMMUNITY, s1, households=2000)
    c3 = add_region("C3", "青云社区", RegionLevel.COMMUNITY, s2, households=1500)
    d2 = add_region("D2", "西区", RegionLevel.DISTRICT)
    s3 = add_region("S3", "河门口街道", RegionLevel.STREET, d2)
    c4 = add_region("C4", "苏铁社区", RegionLevel.COMMUNITY, s3, households=2500)
    accounts = {
        "admin": create_account("admin", "区管理员", PASSWORD, Role.ADMIN, d1),
        "street": create_account("street", "街道", PASSWORD, Role.STREET, s1),
        "community": create_account("community", "社区", PASSWORD, Role.COMMUNITY, c1),
        "evaluator": create_account("evaluator", "考评", PASSWORD, Role.EVALUATOR, d1),
        "outsider": create_account("outsider", "外区管理员", PASSWORD, Role.ADMIN, d2),
    }
    campaigns = {"A": make.campaign(communities=[c1, c2], name="甲调查"),
                 "B": make.campaign(communities=[c3], name="乙调查")}
    sites = {"site1": add_site(c1, "文化中心"), "site3": add_site(c3, "小区东门")}
    db.session.commit()
    regions = {r.code: r for r in (d1, s1, s2, c1, c2, c3, d2, s3, c4)}
    return World(regions, accounts, campaigns, sites)


def csrf_of(client, path: str = "/staff/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def log_in(client, username: str, password: str = PASSWORD):
    return client.post("/staff/login", data={"csrf_token": csrf_of(client), "username": username,
                                              "password": password})


@pytest.fixture
def as_role(app, world):
    """A logged-in client for a role of the world (admin, street, community, evaluator, outsider)."""
    def login(role: str):
        client = app.test_client()
        assert log_in(client, world.accounts[role].username).status_code == 303
        return client
    return login
