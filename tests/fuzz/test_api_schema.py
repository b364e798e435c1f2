"""Schemathesis against app/api/openapi.yaml: every operation, in-process (WSGI), anonymous and as the
district's evaluator, on a world with real campaigns and answers. Never a 5xx; every answer has a
status, content type and body the OpenAPI file describes.

Generated ids are mostly ids nobody has, so half of the examples take real ones (the campaigns, their
communities and streets, the questionnaire's item keys, the shipped schemes) for the path and the id-like
query parameters: those reach the statistics, exports and reports, not only the 404."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import World, log_in

OPENAPI = Path(__file__).resolve().parents[2] / "app" / "api" / "openapi.yaml"
SCHEMA = schemathesis.openapi.from_path(OPENAPI)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

#: Examples per operation and client; two clients, two databases. Bounded so tests/fuzz stays near 3 minutes.
EXAMPLES = 40
#: Valid requests, and requests that break the file's rules (a word for a number, a value out of range, ...).
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
SCHEMES = ["kunming", "panzhihua-xiqu", "jinniu-funds"]


def _real_values(world: World) -> dict[str, st.SearchStrategy]:
    """Parameter name → the world's real values for it (path and query alike)."""
    items = world.items
    campaigns = st.sampled_from([world.campaign, world.earlier])
    communities = st.sampled_from(world.communities)
    return {
        "campaign_id": campaigns, "other_id": campaigns, "community_id": communities, "community": communities,
        "street": st.sampled_from(world.streets),
        "item_key": st.sampled_from(items["likert"] + items["single"][:1] + items["text"][:1]),
        "item": st.sampled_from(items["likert"][:3] + items["text"]),
        "row": st.sampled_from(items["likert"][:2] + items["single"][:2] + items["multiple"][:1]),
        "col": st.sampled_from(["community", "street", "channel", f"item:{items['single'][0]}"] + items["single"][:2]),
        "scheme": st.sampled_from(SCHEMES),
        # The bootstrap's replicates: a generated 10,000 makes every scores example seconds long.
        "replicates": st.integers(1, 200),
    }


def case_strategy(operation, world: World) -> st.SearchStrategy:
    """The operation's cases, with each real-valued parameter either real or generated."""
    real = _real_values(world)
    path_names = [p.name for p in operation.path_parameters if p.name in real]
    query_names = [p.name for p in operation.query if p.name in real]

    def fixed(names):
        return st.fixed_dictionaries({}, optional={name: real[name] for name in names})

    return st.tuples(fixed(path_names), fixed(query_names), st.sampled_from(MODES)).flatmap(
        lambda chosen: operation.as_strategy(chosen[2], path_parameters=chosen[0] or None, query=chosen[1] or None))


def test_every_operation_the_api_serves_is_in_the_file(app):
    """The file lists what is fuzzed: an endpoint added to the API but not to the file would go unfuzzed."""
    served = {(method, re.sub(r"<(?:[^>]*:)?(\w+)>", r"{\1}", rule.rule))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    served.discard(("GET", "/api/v1/openapi.yaml"))  # the file itself
    assert served == {(op.method.upper(), op.path) for op in OPERATIONS}


def test_the_file_repeats_no_key():
    """YAML keeps the last of two equal keys without a word: a second `responses:` under `components` once
    dropped NotLoggedIn and NeedsWholeCampaign, and every operation referring to them was unusable."""
    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        keys = [loader.construct_object(key, deep=True) for key, _ in node.value]
        repeated = sorted({str(key) for key in keys if keys.count(key) > 1})
        assert not repeated, f"{repeated} repeated at {node.start_mark}"
        return loader.construct_mapping(node, deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    yaml.load(OPENAPI.read_text(encoding="utf-8"), StrictLoader)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_operation_never_fails_and_keeps_to_the_file(fuzz_app, fuzz_world, operation):
    app, world = fuzz_app
    # The file's security scheme is the session cookie, so schemathesis sends a made-up one of its own (an
    # anonymous request with a forged session); the evaluator's requests carry the real one over it.
    evaluator = log_in(app, world.evaluator)
    clients = {"anonymous": (app.test_client(), None),
               "evaluator": (evaluator, {"session": evaluator.get_cookie("session").value})}
    statuses: set[tuple[str, int]] = set()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=case_strategy(operation, world))
    def run(case):
        for who, (client, cookies) in clients.items():
            response = case.call(app=app, session=client, cookies=cookies)
            case.validate_response(response, checks=CHECKS)
            statuses.add((who, response.status_code))

    run()
    # The examples reached the code behind the login, not only the 401s and 404s.
    if operation.path != "/api/v1/published/{campaign_id}":
        assert ("anonymous", 401) in statuses
    assert any(who == "evaluator" and status == 200 for who, status in statuses), statuses
