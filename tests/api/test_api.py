"""The JSON API: campaigns and counts, JSON errors."""

from __future__ import annotations

import re

import yaml

from app.extensions import db
from tests.helpers import VALID, open_form


def test_campaigns_are_listed_with_their_state(logged_in, make):
    site = make.site()
    open_one = make.campaign(communities=[site.community], name="进行中的")
    closed = make.campaign(communities=[site.community], state="closed", name="结束了的")
    db.session.commit()
    body = logged_in(site.community.parent.parent).get("/api/v1/campaigns").get_json()
    by_id = {c["id"]: c for c in body["campaigns"]}
    assert by_id[open_one.id]["state"] == "open" and by_id[closed.id]["state"] == "closed"
    assert by_id[open_one.id]["name"] == "进行中的"
    assert by_id[open_one.id]["survey_version"] == 1
    assert by_id[open_one.id]["opens_at"].endswith("+00:00")


def test_counts_by_community_include_communities_with_none(client, make, logged_in):
    first = make.site()
    second_community = make.community(street=first.community.parent)
    second = make.site(second_community)
    third_community = make.community(street=first.community.parent)
    campaign = make.campaign(communities=[first.community, second_community, third_community], one_per_device=False)
    db.session.commit()
    for site, n in ((first, 3), (second, 1)):
        for _ in range(n):
            page = open_form(client, f"/s/{site.token}")
            assert client.post(page.action, data=page.data(**VALID)).status_code == 303
    body = logged_in(first.community.parent.parent).get(f"/api/v1/campaigns/{campaign.id}/counts").get_json()
    assert body["total"] == 4
    assert {c["code"]: c["responses"] for c in body["by_community"]} == {
        first.community.code: 3, second_community.code: 1, third_community.code: 0}


def test_an_unknown_campaign_is_a_json_404(logged_in, make):
    response = logged_in(make.community().parent.parent).get("/api/v1/campaigns/999999/counts")
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["error"]["status"] == 404


def test_an_unknown_api_path_is_a_json_404(client, app):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"]["status"] == 404


def test_a_wrong_method_is_a_json_405(client, app):
    response = client.post("/api/v1/campaigns")
    assert response.status_code == 405 and response.is_json


def test_the_openapi_file_describes_every_api_route(client, app):
    spec = yaml.safe_load(client.get("/api/v1/openapi.yaml").data)
    # Flask's <int:campaign_id> is OpenAPI's {campaign_id}.
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and not rule.rule.endswith("openapi.yaml")}
    documented = set(spec["paths"])
    assert routes == documented


def test_an_id_beyond_32_bits_is_a_json_404(logged_in, make):
    client = logged_in(make.community().parent.parent)
    for campaign_id in (2**31, 2**63, 10**20):
        response = client.get(f"/api/v1/campaigns/{campaign_id}/counts")
        assert response.status_code == 404 and response.is_json
