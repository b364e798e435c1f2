"""What a resident's phone downloads to open a survey: bytes (raw and gzipped) and requests.

Renders every shipped questionnaire and a synthetic 20-item one through the real
application (SQLite in a temporary folder), follows every same-origin asset the page
names, and prints the totals against the 20 KB (gzipped) budget. Then the same for a
坝坝会 vote page, and what one of its state polls costs while nothing changes.

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
from app.meetings import operations as meetings  # noqa: E402
from app.models import QuestionKind, RegionLevel  # noqa: E402
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
            meeting = meetings.create_meeting(sites[0][1].community, "老旧小区改造方案征求意见", "小区中心广场", utcnow())
            meetings.add_question(meeting, QuestionKind.SATISFACTION, "您对改造方案满意吗？")
            meetings.show_question(meeting, 1)
            meetings.open_voting(meeting.questions[0], utcnow())
            db.session.commit()
            client = app.test_client()
            print(f"{'survey':28} {'items':>5} {'requests':>8} {'raw B':>8} {'gzip B':>8} {'of budget':>9}")
            worst = 0
            pages = [(d.id, len(d.items), f"/s/{site.token}") for d, site in sites]
            pages.append(("meeting vote page", 1, f"/m/{meeting.join_code}"))
            for name, n_items, path in pages:
                html = client.get(path).data
                bodies = [html]
                for ref in re.findall(rb'(?:src|href)="(/static/[^"]+)"', html):
                    with client.get(ref.decode().replace("&amp;", "&")) as r:
                        bodies.append(r.data)
                raw = sum(len(b) for b in bodies)
                gz = sum(len(gzip.compress(b, 9)) for b in bodies)
                worst = max(worst, gz)
                print(f"{name:28} {n_items:5} {len(bodies):8} {raw:8} {gz:8} {gz / BUDGET:9.1%}")
            state = client.get(f"/m/{meeting.join_code}/state.json")
            unchanged = client.get(f"/m/{meeting.join_code}/state.json", headers={"If-None-Match": state.headers["ETag"]})
            print(f"meeting state poll: {len(state.data)} B body ({len(gzip.compress(state.data, 9))} B gzipped) "
                  f"when it changes; {unchanged.status_code} with {len(unchanged.data)} B body while it does not")
            db.engine.dispose()
    print(f"largest page: {worst} bytes gzipped, {worst / BUDGET:.1%} of the {BUDGET // 1024} KB budget")
    return 0 if worst <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
