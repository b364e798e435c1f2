"""What a resident's phone downloads to open a survey: bytes (raw and gzipped) and requests.

Renders every shipped questionnaire and a synthetic 20-item one through the real
application (SQLite in a temporary folder), follows every same-origin asset the page
names, and prints the totals against the 20 KB (gzipped) budget.

    .venv/bin/python bench/page_weight.py
"""

from __future__ import annotations

import gzip
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.definitions import load_all  # noqa: E402
from app.definitions.loader import build_survey, load_scales  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import RegionLevel  # noqa: E402
from app.models.types import utcnow  # noqa: E402
from app.staff.operations import add_region, add_site, create_campaign, sync_survey  # noqa: E402

BUDGET = 20 * 1024
ROOT = Path(__file__).resolve().parent.parent


def twenty_item_survey():
    items = [{"key": f"q{i}", "type": "likert", "scale": "satisfaction5", "required": True, "tags": ["bench:x"],
              "text": f"您对社区第{i}项工作的满意程度如何？请选择最符合您感受的一项"} for i in range(1, 21)]
    raw = {"id": "bench-twenty", "title": "二十题满意度问卷", "intro": "您好！问卷不记名。",
           "sections": [{"title": "一、满意度", "items": items}]}
    return build_survey(raw, "<bench>", load_scales(ROOT / "surveys" / "scales.yaml"))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                          "SURVEYS_DIR": str(ROOT / "surveys")})
        with app.app_context():
            upgrade()
            district = add_region("B1", "测试区", RegionLevel.DISTRICT)
            street = add_region("B2", "测试街道", RegionLevel.STREET, district)
            definitions = list(load_all(app.config["SURVEYS_DIR"]).values()) + [twenty_item_survey()]
            sites = []
            for n, definition in enumerate(definitions):
                community = add_region(f"B3{n}", f"社区{n}", RegionLevel.COMMUNITY, street, households=1000)
                site = add_site(community, "文化服务中心")
                create_campaign(definition.title, sync_survey(definition).version, {community: 100},
                                opens_at=utcnow())
                sites.append((definition, site))
            db.session.commit()
            client = app.test_client()
            print(f"{'survey':28} {'items':>5} {'requests':>8} {'raw B':>8} {'gzip B':>8} {'of budget':>9}")
            worst = 0
            for definition, site in sites:
                html = client.get(f"/s/{site.token}").data
                bodies = [html]
                for ref in re.findall(rb'(?:src|href)="(/static/[^"]+)"', html):
                    with client.get(ref.decode().replace("&amp;", "&")) as r:
                        bodies.append(r.data)
                raw = sum(len(b) for b in bodies)
                gz = sum(len(gzip.compress(b, 9)) for b in bodies)
                worst = max(worst, gz)
                print(f"{definition.id:28} {len(definition.items):5} {len(bodies):8} {raw:8} {gz:8} {gz / BUDGET:9.1%}")
            db.engine.dispose()
    print(f"largest page: {worst} bytes gzipped, {worst / BUDGET:.1%} of the {BUDGET // 1024} KB budget")
    return 0 if worst <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
