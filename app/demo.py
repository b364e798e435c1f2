"""Demo data: one district shaped on the Kunming annex, a campaign per shipped
questionnaire, and synthetic responses that differ between communities.

The district's size follows 附件1 of the Kunming plan (五华区: 89 communities, 65 city
communities and 24 村改居, in 10 streets). Street names are the district's; community
names, household counts, sites and every response are made up.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import timedelta

import numpy as np
import sqlalchemy as sa

from .analysis.sampling import cochran_sample_size
from .definitions import Item, SurveyDefinition, load_all
from .definitions.types import ITEM_TYPES
from .demo_scores import add_demo_scoring
from .demo_weighting import add_demo_margins
from .evaluation import tallies
from .extensions import db
from .meetings import operations as meetings
from .models import Answer, Channel, CommunityKind, QuestionKind, Region, RegionLevel, Response, Role
from .models.types import utcnow
from .staff.operations import add_region, add_site, create_account, create_campaign, sync_survey
from .submissions import quality_flags_at_submit

DISTRICT = ("530102", "五华区")
#: (street, city communities, 村改居 communities): 65 + 24 = 89, as in 附件1.
STREETS = [
    ("华山街道", 8, 0), ("护国街道", 7, 0), ("大观街道", 9, 0), ("龙翔街道", 8, 0),
    ("丰宁街道", 7, 0), ("莲华街道", 8, 1), ("红云街道", 7, 2), ("黑林铺街道", 6, 6),
    ("普吉街道", 5, 7), ("西翥街道", 0, 8),
]
_STEMS = ("翠湖 文林 青云 金鼎 圆通 白塔 学府 篆塘 明通 和平 虹山 梨园 海源 春苑 云山 新闻 兴苑 "
          "北仓 桃园 龙泉 紫云 锦华 高新 兴园 月牙 银杏 秀苑 丽园 瑞和 福园 东风 安康 景星 "
          "钱局 富春 华兴 鑫园 华苑 聚福 明珠 云华 星河 康乐 春晓 长春 彩云 天君 泰和 昆福 "
          "双龙 美林 绿水 茨坝 小普吉 马街 龙院 沙靠 大村 王家桥 陈家营 赵家堆 核桃箐 厂口 "
          "沙朗 团结 妥排 桃园村 龙潭 上庄 下庄 新村 石坝 西冲 大营 小营 普坪 黄土坡 "
          "车家壁 海屯 麻园 黑林铺 龙泉村 红联 苏家塘 朱家村 莲花池 小菜园 积善 大树营 "
          "金星 银海 铁路 青龙").split()
_SITE_NAMES = ("社区综合文化服务中心", "党群服务中心", "小区东门", "小区广场", "菜市场门口", "老年活动室")
_SUGGESTIONS = ("希望多组织老年人活动", "小区停车太难了", "路灯坏了很久没人修", "希望垃圾分类点多几个",
                "社区工作人员态度很好", "希望增加健身器材", "物业服务要改进", "希望公开经费使用情况",
                "电梯老旧，希望尽快改造", "多办一些法律咨询")
#: The Panzhihua 西区 pilot (附件1 of the Xiqu plan): its streets, its four pilot communities and
#: the projects each runs (codes of pilot-satisfaction.yaml; 河门口街道's own serve both its communities).
XIQU = ("510403", "西区")
XIQU_STREET_PROJECTS = ["sanshe_center", "incubator", "yilu_tongxing", "sansan_culture"]
XIQU_COMMUNITIES = {
    "河门口街道": {"河门口社区": XIQU_STREET_PROJECTS + ["org_station", "weiai", "chuangye"],
               "苏铁社区": XIQU_STREET_PROJECTS + ["jiuye_1n", "sishi_wuye", "aixin_hui"]},
    "清香坪街道": {"杨家坪社区": ["smart_eldercare", "day_care"],
               "金沙社区": ["e_dangjian", "e_sizhang", "wuye_guide"]},
}
#: Share of responses that each shipped survey gets.
SURVEY_SHARES = {"kunming-questionnaire": 0.6, "pilot-satisfaction": 0.25, "needs-survey": 0.15}


#: The demo accounts' password: for trying the product on your own machine, never for a server.
DEMO_PASSWORD = "minyi-demo-2026"


class DemoAlreadyLoaded(RuntimeError):
    pass


def load_demo(*, n_responses: int, seed: int, surveys_dir: str) -> str:
    if db.session.scalar(sa.select(Region.id).where(Region.code == DISTRICT[0])):
        raise DemoAlreadyLoaded(f"district {DISTRICT[0]} exists")
    rng = random.Random(seed)
    versions = {sid: sync_survey(d).version for sid, d in load_all(surveys_dir).items()}

    district = add_region(*DISTRICT, RegionLevel.DISTRICT)
    communities: list[Region] = []
    stems = iter(_STEMS)
    for s_index, (street_name, n_urban, n_village) in enumerate(STREETS, start=1):
        street = add_region(f"{DISTRICT[0]}{s_index:03d}", street_name, RegionLevel.STREET, district)
        for c_index in range(1, n_urban + n_village + 1):
            village = c_index > n_urban
            stem = next(stems)
            community = add_region(
                f"{street.code}{c_index:03d}", stem + ("村社区" if village and not stem.endswith("村") else "社区"),
                RegionLevel.COMMUNITY, street,
                households=rng.randint(600, 2500) if village else rng.randint(1500, 6000),
                kind=CommunityKind.VILLAGE if village else CommunityKind.URBAN)
            for site_name in rng.sample(_SITE_NAMES, rng.choice((2, 3))):
                add_site(community, site_name)
            communities.append(community)
    xiqu = add_region(*XIQU, RegionLevel.DISTRICT)
    projects: dict[int, list[str]] = {}
    pilots = []
    for s_index, (street_name, members) in enumerate(XIQU_COMMUNITIES.items(), start=1):
        street = add_region(f"{XIQU[0]}{s_index:03d}", street_name, RegionLevel.STREET, xiqu)
        for c_index, (community_name, codes) in enumerate(members.items(), start=1):
            community = add_region(f"{street.code}{c_index:03d}", community_name, RegionLevel.COMMUNITY, street,
                                   households=rng.randint(2000, 5000), kind=CommunityKind.URBAN)
            for site_name in rng.sample(_SITE_NAMES, rng.choice((2, 3))):
                add_site(community, site_name)
            pilots.append(community)
            communities.append(community)
    db.session.flush()
    for community in pilots:
        projects[community.id] = XIQU_COMMUNITIES[community.parent.name][community.name]

    now = utcnow()
    opens, closes = now - timedelta(days=7), now + timedelta(days=30)

    def targets(members):
        return {c: cochran_sample_size(c.households) for c in members}

    kunming = [c for c in communities if c not in pilots]
    needs = [c for c in communities if c.parent.name == "黑林铺街道"]
    plan = []
    if "kunming-questionnaire" in versions:
        plan.append(create_campaign("2026年社区治理创新考评 问卷调查", versions["kunming-questionnaire"],
                                    targets(kunming), opens_at=opens, closes_at=closes))
    if "pilot-satisfaction" in versions:
        plan.append(create_campaign("西区2026年试点项目 群众满意度测评", versions["pilot-satisfaction"],
                                    targets(pilots), opens_at=opens, closes_at=closes))
    if "needs-survey" in versions:
        plan.append(create_campaign("黑林铺街道 居民需求调研", versions["needs-survey"],
                                    targets(needs), opens_at=opens, closes_at=closes))
    db.session.flush()

    np_rng = np.random.default_rng(seed)
    # Each community has a latent level of satisfaction; items differ in how hard they are to please.
    mood = {c.id: np_rng.normal(0.0, 0.6) for c in communities}
    total = 0
    for campaign in plan:
        survey_key = campaign.survey_version.survey.key
        n = round(n_responses * SURVEY_SHARES.get(survey_key, 0.1))
        members = [cc.community for cc in campaign.communities]
        definition = campaign.survey_version.survey_definition
        total += _add_responses(campaign, definition, members, mood, n, rng, np_rng, now, projects)
    street = next(c for c in communities if c.parent.name == "华山街道").parent
    for username, name, role, region in (
            ("wuhua", "五华区管理员", Role.ADMIN, district), ("huashan", "华山街道工作人员", Role.STREET, street),
            ("cuihu", "翠湖社区工作人员", Role.COMMUNITY, communities[0]),
            ("kaoping", "五华区考评组", Role.EVALUATOR, district), ("xiqu", "西区管理员", Role.ADMIN, xiqu)):
        create_account(username, name, DEMO_PASSWORD, role, region)
    if plan and plan[0].survey_version.survey.key == "kunming-questionnaire":
        _add_meeting(plan[0], communities[0], now)
    db.session.flush()
    entries = add_demo_scoring(plan, surveys_dir, rng, mood)
    margins, weighted = add_demo_margins(plan, rng)
    db.session.commit()
    raked = (f"{len(weighted)} of them with respondents in every age band and sex, e.g. "
             f"/api/v1/campaigns/{weighted[0][0]}/weighted?community={weighted[0][1]}" if weighted
             else "none yet with respondents in every age band and sex")
    return (f"demo loaded: district {DISTRICT[1]} with {len(STREETS)} streets and {len(kunming)} communities, "
            f"district {XIQU[1]} with {len(pilots)} pilot communities; "
            f"{sum(len(c.sites) for c in communities)} sites; {len(plan)} campaigns; {total} responses; "
            f"scoring schemes filled in with made-up demo numbers and {entries} evaluator entries; "
            f"made-up population margins (age band, sex) for weighting in {margins} communities ({raked}"
            f"{'; more with --responses 20000' if len(weighted) < margins else ''}); "
            f"staff accounts wuhua, huashan, cuihu, kaoping, xiqu with the password {DEMO_PASSWORD!r}")


def _add_meeting(campaign, community: Region, now) -> None:
    """A 坝坝会 ready to run in the first community: two questionnaire questions and one made on the spot."""
    starts = (now + timedelta(days=1)).replace(hour=11, minute=30, second=0, microsecond=0)  # 19:30 China time
    meeting = meetings.create_meeting(community, "老旧小区改造方案征求意见", "小区中心广场", starts, campaign=campaign)
    items = [i for i in campaign.survey_version.survey_definition.items if i.type == "likert"][:2]
    for item in items:
        meetings.add_question(meeting, QuestionKind.SURVEY_ITEM, item.text, item=item)
    meetings.add_question(meeting, QuestionKind.YES_NO, "同意在 3 栋加装电梯吗？")
    meetings.show_question(meeting, 1)


def _add_responses(campaign, definition: SurveyDefinition, members: list[Region], mood, n: int,
                   rng: random.Random, np_rng, now, projects: dict[int, list[str]]) -> int:
    if n <= 0 or not members:
        return 0
    # Bigger communities answer more; a few communities lag far behind their target.
    weights = np.array([c.households * (0.3 if i % 7 == 3 else 1.0) for i, c in enumerate(members)], float)
    chosen = np_rng.choice(len(members), size=n, p=weights / weights.sum())
    difficulty = {item.key: np_rng.normal(0, 0.4) for item in definition.items}
    responses, answers_per_response = [], []
    for index in chosen:
        community = members[index]
        channel = rng.choices((Channel.QR, Channel.PAPER, Channel.TICKET), weights=(70, 20, 10))[0]
        site = rng.choice(community.sites) if channel is not Channel.PAPER else None
        older = channel is Channel.PAPER
        answers = _answer(definition, mood[community.id], difficulty, older, rng, np_rng,
                          projects.get(community.id, []))
        submitted = now - timedelta(seconds=rng.uniform(0, 7 * 86400))
        duration = timedelta(seconds=float(np_rng.lognormal(math.log(240), 0.5)))
        responses.append({
            "campaign_id": campaign.id, "community_id": community.id, "site_id": site.id if site else None,
            "channel": channel, "started_at": submitted - duration if channel is not Channel.PAPER else None,
            "submitted_at": submitted, "submission_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "device_hash": f"{rng.getrandbits(128):032x}" if site else None,
            "network_hash": f"{rng.getrandbits(20):016x}" if site else None, "once_key": None,
            "quality_flags": int(quality_flags_at_submit(definition, answers)),
        })
        answers_per_response.append((campaign.id, community.id, answers))
    ids = db.session.execute(
        sa.insert(Response.__table__).returning(Response.__table__.c.id, sort_by_parameter_order=True),
        responses).scalars().all()
    rows = [{"response_id": rid, "item": item, "value": value, "number": number, "text": text,
             "campaign_id": cid, "community_id": mid}
            for rid, (cid, mid, answers) in zip(ids, answers_per_response)
            for item, (value, number, text) in answers]
    for start in range(0, len(rows), 5000):
        db.session.execute(sa.insert(Answer.__table__), rows[start:start + 5000])
    tallies.add_counts(tallies.count_rows(rows))
    return len(ids)


def _answer(definition: SurveyDefinition, mood: float, difficulty: dict, older: bool, rng, np_rng,
            own_projects: list[str]):
    person = mood + np_rng.normal(0, 0.7)
    given: dict[str, object] = {}
    rows = []
    for item in definition.items:
        cond = item.show_if
        if cond is not None and (cond.item not in given or not cond.holds(given[cond.item])):
            continue
        if not item.required and rng.random() < 0.12:
            continue
        if item.key == "pilot_heard" and own_projects:
            # Residents mostly know their own community's projects, now and then a neighbour's.
            heard = [p for p in own_projects if rng.random() < 0.45] + \
                    [c.code for c in item.options if not c.exclusive and rng.random() < 0.03]
            value = list(dict.fromkeys(heard)) or ["none"]
        else:
            value = _one_answer(item, person - difficulty[item.key], older, rng)
        if value is None:
            continue
        given[item.key] = value
        rows.extend((item.key, row) for row in ITEM_TYPES[item.type].encode_value(item, value))
    return rows


def _one_answer(item: Item, latent: float, older: bool, rng):
    if item.type == "likert":
        if item.scale.off_scale and rng.random() < 0.07:
            return item.scale.off_scale[0].code
        levels = item.scale.levels  # best first
        # An ordered-logit draw: higher latent, better level.
        cut = [1.6, 0.6, -0.6, -1.6][: len(levels) - 1]
        x = latent + 0.9 + rng.gauss(0, 0.9)
        position = sum(1 for c in cut if x < c)
        return levels[min(position, len(levels) - 1)].code
    if item.type == "single":
        codes = [c.code for c in item.options]
        if item.key == "age_band" and len(codes) >= 5:
            weights = (5, 10, 20, 30, 35) if older else (25, 30, 25, 12, 8)
            return rng.choices(codes, weights=weights[: len(codes)] + (5,) * (len(codes) - 5))[0]
        # Earlier options are the more common answers on yes/no-like items.
        return rng.choices(codes, weights=[len(codes) - i + 1 for i in range(len(codes))])[0]
    if item.type == "multiple":
        codes = [c.code for c in item.options]
        high = item.max_choices or min(3, len(codes))
        k = rng.randint(max(1, item.min_choices or 1), max(1, min(high, len(codes))))
        picked = rng.sample(codes, k)
        alone = [c.code for c in item.options if c.exclusive and c.code in picked]
        return alone[:1] if alone else picked
    if item.type == "number":
        low = item.min if item.min is not None else 0
        high = item.max if item.max is not None else low + 30
        return int(rng.uniform(low, high)) if item.integer else round(rng.uniform(low, high), 1)
    if item.type == "text":
        return rng.choice(_SUGGESTIONS) if rng.random() < 0.2 else None
    return None
