"""The resident's page: light, self-contained, readable by elderly residents."""

from __future__ import annotations

import gzip
import re

import pytest

from app.extensions import db
from tests.conftest import ROOT
from tests.helpers import open_form

#: The issue's ceiling for a 20-item survey page, everything counted.
PAGE_BUDGET = 20 * 1024


def static_text(client, html: str, kind: str) -> str:
    """The body of the page's stylesheet ("css") or script ("js")."""
    path = re.search(rf'(?:href|src)="(/static/{kind}/[^"]+)"', html).group(1).replace("&amp;", "&")
    with client.get(path) as response:
        assert response.status_code == 200
        return response.get_data(as_text=True)


def page_with_assets(client, url: str) -> dict[str, bytes]:
    """The page and every same-origin asset it loads (what a phone downloads)."""
    html = client.get(url).data
    bodies = {url: html}
    for ref in re.findall(rb'(?:src|href)="(/static/[^"]+)"', html):
        path = ref.decode().replace("&amp;", "&")
        response = client.get(path)
        assert response.status_code == 200, path
        bodies[path] = response.data
        response.close()
    return bodies


@pytest.fixture
def largest_survey_site(make):
    from app.definitions import load_all
    from app.staff.operations import sync_survey
    definitions = load_all(ROOT / "surveys")
    largest = max(definitions.values(), key=lambda d: len(d.items))
    site = make.site()
    make.campaign(sync_survey(largest).version, [site.community])
    db.session.commit()
    return site, largest


def test_the_largest_shipped_survey_page_is_within_budget(client, largest_survey_site):
    site, definition = largest_survey_site
    bodies = page_with_assets(client, f"/s/{site.token}")
    gzipped = sum(len(gzip.compress(b, 9)) for b in bodies.values())
    assert len(definition.items) >= 15
    assert gzipped <= PAGE_BUDGET, f"{gzipped} bytes gzipped over {len(bodies)} requests"
    assert len(bodies) <= 3  # the page, one stylesheet, one script


def test_twenty_items_fit_the_budget(client, make):
    items = "\n".join(
        f'      - {{key: q{i}, type: likert, scale: satisfaction5, text: 您对社区第{i}项工作的满意程度如何？请选择最符合您感受的一项, '
        f'required: true, tags: ["t:x"]}}' for i in range(1, 21))
    version = make.version(f"title: 二十题\nintro: 您好\nsections:\n  - title: 一\n    items:\n{items}\n")
    site = make.site()
    make.campaign(version, [site.community])
    db.session.commit()
    bodies = page_with_assets(client, f"/s/{site.token}")
    assert sum(len(gzip.compress(b, 9)) for b in bodies.values()) <= PAGE_BUDGET


def test_nothing_is_loaded_from_another_origin(client, largest_survey_site):
    site, _ = largest_survey_site
    html = client.get(f"/s/{site.token}").get_data(as_text=True)
    # "data:," is the empty favicon: it stops browsers asking for /favicon.ico and loads nothing.
    refs = [ref for ref in re.findall(r'(?:src|href|action)="([^"]+)"', html) if ref != "data:,"]
    assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    assert "@import" not in html and "url(" not in html
    css = static_text(client, html, "css")
    assert "url(" not in css and "@import" not in css and "@font-face" not in css


def test_every_input_has_a_label(client, largest_survey_site):
    site, _ = largest_survey_site
    html = client.get(f"/s/{site.token}").get_data(as_text=True)
    wrapped = re.findall(r'<label class="opt[^"]*"><input ', html)
    radios_and_boxes = re.findall(r'<input type="(?:radio|checkbox)"', html)
    assert len(wrapped) == len(radios_and_boxes) > 0
    for ident in re.findall(r'<(?:input class="num"[^>]*|textarea) id="([a-z0-9_]+)"', html):
        assert f'<label for="{ident}">' in html
    # Questions with options are fieldsets with a legend naming the question.
    assert html.count("<fieldset") == html.count("<legend>") > 0
    assert '<html lang="zh-CN">' in html and 'name="viewport"' in html


def test_type_is_large_and_tap_targets_are_big(client, open_site):
    site, _ = open_site
    html = client.get(f"/s/{site.token}").get_data(as_text=True)
    css = static_text(client, html, "css")
    root_px = int(re.search(r"html\{font-size:(\d+)px", css).group(1))
    assert root_px >= 18
    for selector in (r"\.opt\{", r"button,\.btn\{"):
        rule = re.search(selector + r"[^}]*", css).group(0)
        rem = float(re.search(r"min-height:([\d.]+)rem", rule).group(1))
        assert rem * root_px >= 44, selector


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _colour_pairs(css: str):
    """(selector, text colour, background) for every rule that sets either, as the page uses them:
    a rule without a background sits on its block's background (white, or the notice's and the
    intro's own); a rule without a colour inherits the body text colour."""
    backgrounds = {".notice": "fff3f3", ".intro": "eef3fa"}
    body_text = re.search(r"body\{[^}]*?color:#([0-9a-f]{6})", css).group(1)
    for selector, block in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        colour = re.search(r"(?<![-\w])color:#([0-9a-f]{6})", block)
        background = re.search(r"background(?:-color)?:#([0-9a-f]{6})", block)
        if not colour and not background:
            continue
        if background is None:
            inherited = next((bg for prefix, bg in backgrounds.items() if selector.strip().startswith(prefix)), "ffffff")
        yield (selector.strip(), colour.group(1) if colour else body_text,
               background.group(1) if background else inherited)


def test_every_text_colour_meets_wcag_aa_on_its_background():
    css = (ROOT / "static" / "css" / "resident.css").read_text().lower()
    pairs = list(_colour_pairs(css))
    assert len(pairs) >= 8  # the parse found the stylesheet's rules
    for selector, fg, bg in pairs:
        assert _contrast(fg, bg) >= 4.5, f"{selector}: #{fg} on #{bg} is {_contrast(fg, bg):.2f}:1"
    # Text that also sits on the intro's tinted box.
    assert _contrast("1a1a1a", "eef3fa") >= 4.5


def test_the_contrast_formula_matches_the_wcag_reference_values():
    assert round(_contrast("000000", "ffffff"), 2) == 21.0
    assert round(_contrast("767676", "ffffff"), 2) == 4.54  # the lightest grey that passes AA on white
    assert _contrast("777777", "ffffff") < 4.5


def test_the_form_works_without_javascript(client, open_site):
    """Every item is in the HTML (none hidden server-side), and conditional ones say when to answer."""
    site, _ = open_site
    page = open_form(client, f"/s/{site.token}")
    assert 'id="q-joined_sat"' in page.html and " hidden" not in page.html.split('id="q-joined_sat"')[1][:200]
    assert "第 2 题选了“参加过”的，请回答这一题。" in page.html
    assert '<button type="submit">提交</button>' in page.html
