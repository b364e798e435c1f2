"""Scoring schemes (surveys/schemes/*.yaml): a tree of indicators with points, read and checked.

A scheme says how a community's overall score is made: indicators with points, grouped into
parents whose points are the sum of their children's (or, for a composite such as Jinniu's, a
weighted mean with weights summing to 1). Every leaf says how it is fed:

- ``survey``: the satisfaction rate or index of the items carrying given tags, turned into a
  share of the leaf's points linearly or by thresholds;
- ``levels``: the evaluator picks a graded level (factor 0–1 with its written descriptor);
- ``standard``: the evaluator enters a number checked against a standard (≥ 10 个 …);
- ``entered``: the evaluator enters the share of full marks achieved (得分率, %);
- ``to_fill``: a placeholder for indicators the source document does not give.

A number the source does not give is written ``待填`` (to be filled) instead of being invented:
the loader accepts it, and the scorer (app/analysis/scoring.py) reports such an indicator as not
scorable. Pure: YAML or dicts in, frozen dataclasses out, every problem reported together in the
ProblemList style of the questionnaire loader. The format is in surveys/schemes/README.md.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from pathlib import Path

import yaml

from .errors import DefinitionError, ProblemList
from .loader import load_all
from .model import SurveyDefinition

#: Written in place of a number the source document does not give.
TO_FILL = "待填"
SCHEMES_DIR = Path(__file__).resolve().parents[2] / "surveys" / "schemes"
ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
INDICATOR_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
TAG_RE = re.compile(r"^[a-z][a-z0-9_-]*:[A-Za-z0-9_.\-]+$")
MEASURES = ("rate", "index")
COMBINES = ("sum", "weighted")
STANDARD_SCORINGS = ("met", "proportional")
#: Community kinds a standard may differ by (app.models.regions.CommunityKind values).
COMMUNITY_KINDS = ("urban", "village")
FEEDS = ("survey", "levels", "standard", "entered", "to_fill")
SCHEME_FIELDS = {"id", "title", "title_en", "source", "description", "questionnaire", "points", "combine",
                 "indicators"}
INDICATOR_FIELDS = {"id", "label", "label_en", "points", "weight", "method", "note", "combine", "children",
                    *FEEDS}
#: Sums of points and weights are compared to this tolerance (YAML decimals are not exact).
TOLERANCE = 1e-9


class SchemeCode(enum.Enum):
    """Coded, templated messages for a scheme file that is wrong (used with ProblemList)."""

    YAML = "the file is not valid YAML: {detail}"
    NOT_A_MAPPING = "the file must hold a mapping with id, title and indicators"
    MISSING = "'{field}' is required"
    UNKNOWN_FIELD = "unknown field '{field}'; allowed: {allowed}"
    BAD_TYPE = "'{field}' must be {expected}, not {got!r}"
    BAD_ID = "'{field}' must be lowercase letters, digits, '-' or '_' and start with a letter (got {value!r})"
    BAD_INDICATOR_ID = ("indicator id {value!r} must be letters, digits, '.', '-' or '_' (at most 64), "
                        "e.g. II-14.4")
    DUPLICATE_INDICATOR = "the indicator id '{id}' is used twice; every indicator needs its own id"
    DUPLICATE_SCHEME_ID = "the scheme id '{id}' is already used by {other}; every file needs its own id"
    NO_INDICATORS = "'{field}' must list at least one indicator"
    POINTS_SUM = "the points of its indicators add up to {total:g}, not the {points:g} given here; make them agree"
    POINTS_EXCEED = ("the points of its indicators already add up to {total:g} (some still 待填), "
                     "more than the {points:g} given here")
    POINTS_MISSING = "'points' is required on a leaf: a number, or 待填 where the source gives none"
    WEIGHTS_SUM = "the weights of its indicators add up to {total:g}, not 1; make them add up to 1"
    WEIGHTS_EXCEED = "the weights given so far already add up to {total:g} (some still 待填), more than 1"
    WEIGHT_RANGE = "'weight' must be more than 0 and at most 1 (got {value!r})"
    WEIGHT_MISSING = "'weight' is required under an indicator that combines by weight (a number, or 待填)"
    WEIGHT_NOT_HERE = "'weight' only applies to the indicators of a parent with 'combine: weighted'"
    BAD_COMBINE = "'combine' must be one of: sum, weighted (got {value!r})"
    COMBINE_ON_LEAF = "'combine' applies only to an indicator with children"
    FEED_ON_PARENT = "'{field}' applies to leaves only: an indicator with children is scored from them"
    LEAF_FEED = ("an indicator without children needs exactly one of: survey, levels, standard, entered, "
                 "to_fill (got {got})")
    SURVEY_FORM = ("'survey' must be {{tags: [...], measure: rate|index}} with exactly one of "
                   "'linear: {{zero: A, full: B}}' or 'thresholds: [{{at_least: X, factor: F}}, ...]'")
    BAD_MEASURE = "'measure' must be rate (满意率) or index (满意度指数), not {value!r}"
    BAD_TAG = "tag {tag!r} must look like 'scheme:indicator' (e.g. kunming:II-14.4)"
    LINEAR_ANCHORS = ("'linear' needs 0 <= zero < full <= 100, on the percent scale of the rate or the "
                      "0–100 index (got zero={zero!r}, full={full!r})")
    THRESHOLDS_ORDER = ("thresholds must run from the highest 'at_least' down, each within 0–100, with "
                        "factors within [0, 1] that do not rise (got {value})")
    UNKNOWN_QUESTIONNAIRE = "questionnaire '{questionnaire}' is not among the surveys read (known: {known})"
    NO_QUESTIONNAIRE = "a survey-fed indicator needs the scheme to name its 'questionnaire'"
    UNKNOWN_TAG = "tag '{tag}' is on no item of the questionnaire '{questionnaire}'"
    TAG_NOT_ON_SCALE = ("tag '{tag}' is on no scale (likert) item of '{questionnaire}', so it has no "
                        "satisfaction rate or index")
    LEVELS_FORM = "'levels' must list at least two levels, each {{factor: F, label: 描述}}"
    LEVEL_FACTOR_RANGE = "level factor {value!r} must be within [0, 1]"
    LEVELS_NOT_INCREASING = "level factors must increase from the first level to the last (got {factors})"
    STANDARD_FORM = ("'standard' must be {{label: 内容, unit: 单位, at_least: N or {{urban: N, village: M}}, "
                     "scoring: met|proportional}}")
    STANDARD_VALUE = "at_least must be a number above 0 (or 待填), got {value!r}"
    ENTERED_FORM = "'entered' must be {{label: 录入内容}}"
    TO_FILL_FORM = "'to_fill' must be text (Chinese) saying what is missing and why"
    EMPTY_TEXT = "'{field}' must be non-empty text"


# -- the model --------------------------------------------------------------------


@dataclass(frozen=True)
class LinearRule:
    """Share of points = (value − zero) / (full − zero), clipped to [0, 1]; values in percent / index."""

    zero: float
    full: float


@dataclass(frozen=True)
class Threshold:
    """A value at or above ``at_least`` (percent / index) earns ``factor`` × points."""

    at_least: float
    factor: float


@dataclass(frozen=True)
class SurveyFeed:
    """Fed from a survey: the rate (满意率) or index (0–100) of the items carrying ``tags``."""

    tags: tuple[str, ...]
    #: "rate" (share satisfied, compared in percent) or "index" (satisfaction index, 0–100).
    measure: str
    linear: LinearRule | None = None
    #: Highest ``at_least`` first; below the last, the factor is 0.
    thresholds: tuple[Threshold, ...] = ()
    kind = "survey"


@dataclass(frozen=True)
class Level:
    """One graded level: its factor (share of the points) and the descriptor the evaluator reads."""

    factor: float
    label: str


@dataclass(frozen=True)
class LevelsFeed:
    """Entered by an evaluator: one of ``levels``, lowest factor first (分级评分法)."""

    levels: tuple[Level, ...]
    kind = "levels"

    @cached_property
    def factors(self) -> tuple[float, ...]:
        return tuple(level.factor for level in self.levels)


@dataclass(frozen=True)
class StandardFeed:
    """Entered by an evaluator: a measured number checked against a standard (≥ at_least).

    ``met``: full points when the standard is reached, none otherwise; ``proportional``: points ×
    min(value / at_least, 1). The standard may differ by community kind (urban / village).
    """

    label: str
    scoring: str
    unit: str | None = None
    #: The standard for every community; None when it differs by kind or is 待填.
    at_least: float | None = None
    #: (kind, standard) pairs when the standard differs by community kind.
    at_least_by_kind: tuple[tuple[str, float], ...] = ()
    #: True when the standard's number is 待填.
    at_least_to_fill: bool = False
    kind = "standard"

    def standard_for(self, community_kind: str | None) -> float | None:
        """The number to reach for a community of this kind (None: unknown kind, or 待填)."""
        if self.at_least_by_kind:
            return dict(self.at_least_by_kind).get(community_kind) if community_kind else None
        return self.at_least


@dataclass(frozen=True)
class EnteredFeed:
    """Entered by an evaluator: the share of full marks achieved, in percent (得分率, 0–100)."""

    label: str
    kind = "entered"


@dataclass(frozen=True)
class ToFillFeed:
    """A placeholder: the source document does not give this indicator; ``reason`` says what is missing."""

    reason: str
    kind = "to_fill"


Feed = SurveyFeed | LevelsFeed | StandardFeed | EnteredFeed | ToFillFeed


@dataclass(frozen=True)
class Indicator:
    """One node of a scheme: a leaf with a feed, or a parent scored from its children."""

    id: str
    label: str
    #: Full points; None when 待填 (see ``to_fill``) or not given under a weighted parent.
    points: float | None
    children: tuple[Indicator, ...] = ()
    #: How a parent combines its children: "sum" of points, or "weighted" mean of their shares.
    combine: str = "sum"
    #: Under a weighted parent: this indicator's weight (None when 待填).
    weight: float | None = None
    feed: Feed | None = None
    #: Fields written 待填 on this indicator: "points", "weight", "at_least".
    to_fill: tuple[str, ...] = ()
    label_en: str | None = None
    #: How it is assessed (考评方法), e.g. 问卷调查, 材料审核.
    method: str | None = None
    #: What the evaluator reads beside the entry (考评标准, 评价要点及说明).
    note: str | None = None

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @property
    def is_placeholder(self) -> bool:
        """Something on this indicator itself is still to be filled in."""
        return bool(self.to_fill) or isinstance(self.feed, ToFillFeed)


@dataclass(frozen=True)
class Scheme:
    """A scoring scheme: top-level indicators, the scheme's full points, how they combine."""

    id: str
    title: str
    indicators: tuple[Indicator, ...]
    #: Full points of the whole scheme; None when 待填 or not given (a weighted composite is then
    #: reported as a share, 得分率).
    points: float | None = None
    combine: str = "sum"
    #: True when the scheme's own points are written 待填.
    points_to_fill: bool = False
    #: The questionnaire whose item tags the survey-fed indicators name.
    questionnaire: str | None = None
    title_en: str | None = None
    #: The source document and section (e.g. 附件2 of seed 003).
    source_document: str | None = None
    description: str | None = None
    source: str | None = None  # the file it was read from

    def walk(self) -> Iterator[tuple[Indicator, int]]:
        """Every indicator with its depth (1 for the top level), parents before their children."""
        stack = [(indicator, 1) for indicator in reversed(self.indicators)]
        while stack:
            indicator, depth = stack.pop()
            yield indicator, depth
            stack.extend((child, depth + 1) for child in reversed(indicator.children))

    @cached_property
    def indicators_by_id(self) -> dict[str, Indicator]:
        return {indicator.id: indicator for indicator, _ in self.walk()}

    @cached_property
    def leaves(self) -> tuple[Indicator, ...]:
        return tuple(indicator for indicator, _ in self.walk() if indicator.is_leaf)

    def at_depth(self, depth: int) -> tuple[Indicator, ...]:
        return tuple(indicator for indicator, d in self.walk() if d == depth)

    @cached_property
    def placeholders(self) -> tuple[str, ...]:
        """Ids of the indicators with something still 待填 ("" for the scheme's own points)."""
        own = ("",) if self.points_to_fill else ()
        return own + tuple(indicator.id for indicator, _ in self.walk() if indicator.is_placeholder)

    @cached_property
    def survey_tags(self) -> frozenset[str]:
        """Every tag a survey-fed indicator reads: the figures a caller must supply."""
        return frozenset(tag for leaf in self.leaves if isinstance(leaf.feed, SurveyFeed) for tag in leaf.feed.tags)


# -- loading ----------------------------------------------------------------------


def load_scheme_file(path: str | Path, surveys: Mapping[str, SurveyDefinition] | None = None) -> Scheme:
    """Load one scheme file; raises DefinitionError listing every problem found.

    With ``surveys`` (by id, as app.definitions.load_all returns them), the tags of survey-fed
    indicators are checked against the questionnaire the scheme names; without, they are not.
    """
    path = Path(path)
    return build_scheme(_read_yaml(path), str(path), surveys)


def load_schemes(directory: str | Path = SCHEMES_DIR,
                 surveys: Mapping[str, SurveyDefinition] | None = None) -> dict[str, Scheme]:
    """Every scheme in a folder by id; raises DefinitionError with all problems of all files.

    ``surveys`` defaults to the questionnaires in the folder above (surveys/), so the tags are checked.
    """
    directory = Path(directory)
    if surveys is None:
        surveys = load_all(directory.parent)
    problems = []
    schemes: dict[str, Scheme] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            scheme = load_scheme_file(path, surveys)
        except DefinitionError as e:
            problems.extend(e.problems)
            continue
        if scheme.id in schemes:
            pl = ProblemList(str(path))
            pl.add("", SchemeCode.DUPLICATE_SCHEME_ID, id=scheme.id, other=schemes[scheme.id].source)
            problems.extend(pl.problems)
            continue
        schemes[scheme.id] = scheme
    if problems:
        raise DefinitionError(problems)
    return schemes


#: What a district writes where its scheme says 待填 (key "" is the scheme itself).
FILLABLE = ("points", "weight", "at_least", "entered")

#: Chinese for the problems a district's numbers can cause (the rest are the file's, not theirs).
FILL_PROBLEMS_ZH = {
    SchemeCode.POINTS_SUM: "下级指标的分值合计与上级分值不一致",
    SchemeCode.POINTS_EXCEED: "下级指标的分值合计已超过上级分值",
    SchemeCode.WEIGHTS_SUM: "同一级指标的权重合计必须等于1",
    SchemeCode.WEIGHTS_EXCEED: "已填的权重合计超过了1",
    SchemeCode.WEIGHT_RANGE: "权重须大于0、不超过1",
    SchemeCode.BAD_TYPE: "须填写不小于0的数字",
    SchemeCode.STANDARD_VALUE: "达标标准须是大于0的数字",
    SchemeCode.POINTS_MISSING: "须填写分值",
}


class FillInError(ValueError):
    """A district's numbers do not fit the scheme; ``messages`` (Chinese) say what and where."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def scheme_mapping(scheme: Scheme) -> dict:
    """The mapping the scheme was read from (its YAML file), to fill in and build again."""
    if scheme.source is None or not Path(scheme.source).is_file():
        raise ValueError(f"scheme {scheme.id!r} was not read from a file")
    return _read_yaml(Path(scheme.source))


def fill_in(raw: dict, values: Mapping[str, Mapping[str, object]]) -> dict:
    """A copy of a scheme's mapping with a district's numbers written where it says 待填.

    ``values``: indicator id ("" for the scheme) → {"points": N, "weight": W, "at_least": N} for the
    fields written 待填 there, or {"entered": "label"} to score a ``to_fill`` indicator from an
    entered 得分率 (the part the source left out is then assessed as a whole). A parent whose points
    stay 待填 becomes the sum of its children's. Raises ValueError for an unknown indicator or a
    value given for something the scheme already fixes: a district fills gaps, it does not rewrite.
    """
    remaining = {key: dict(fields) for key, fields in values.items()}

    def take(node: dict, key: str, is_parent: bool) -> dict:
        node = {**node}
        given = remaining.pop(key, {})
        for field, value in given.items():
            if field not in FILLABLE:
                raise ValueError(f"{key or 'the scheme'}: {field!r} cannot be filled in (only {', '.join(FILLABLE)})")
            if field == "entered":
                if "to_fill" not in node:
                    raise ValueError(f"{key}: only an indicator written to_fill can be scored from an entered 得分率")
                del node["to_fill"]
                node["entered"] = {"label": str(value)}
            elif field == "at_least":
                standard = node.get("standard")
                if not isinstance(standard, dict) or standard.get("at_least") != TO_FILL:
                    raise ValueError(f"{key}: its standard is not 待填")
                node["standard"] = {**standard, "at_least": value}
            elif node.get(field) != TO_FILL:
                raise ValueError(f"{key or 'the scheme'}: its {field} is not 待填")
            else:
                node[field] = value
        if is_parent and node.get("points") == TO_FILL:
            del node["points"]  # the sum of its children's
        if isinstance(node.get("children"), list):
            node["children"] = [take(child, child.get("id"), "children" in child) if isinstance(child, dict)
                                else child for child in node["children"]]
        return node

    filled = take(raw, "", True)
    if isinstance(filled.get("indicators"), list):
        filled["indicators"] = [take(child, child.get("id"), "children" in child) if isinstance(child, dict)
                                else child for child in filled["indicators"]]
    if remaining:
        raise ValueError(f"no indicator {', '.join(sorted(map(repr, remaining)))} in scheme {raw.get('id')!r}")
    return filled


def filled_scheme(scheme: Scheme, values: Mapping[str, Mapping[str, object]],
                  surveys: Mapping[str, SurveyDefinition] | None = None) -> Scheme:
    """The scheme with a district's numbers in place of its 待填 (none given: the scheme itself).

    Raises FillInError, in Chinese, when the numbers do not add up (points, weights).
    """
    if not values:
        return scheme
    try:
        mapping = fill_in(scheme_mapping(scheme), values)
    except ValueError as e:  # e.g. the file now gives a number the district had filled in
        raise FillInError([f"填入的数字与评分方案文件对不上（{e}），请重新填写"]) from e
    try:
        return build_scheme(mapping, f"{scheme.source} (filled in)", surveys)
    except DefinitionError as e:
        labels = scheme.indicators_by_id
        messages = []
        for problem in e.problems:
            match = re.search(r"'([^']+)'", problem.where or "")
            where = labels[match.group(1)].label if match and match.group(1) in labels else "整个方案"
            messages.append(f"{where}：{FILL_PROBLEMS_ZH.get(problem.code, problem.message)}")
        raise FillInError(messages) from e


def _read_yaml(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as e:
        pl = ProblemList(str(path))
        pl.add("", SchemeCode.YAML, detail=str(e).replace("\n", " "))
        raise DefinitionError(pl.problems) from e


def build_scheme(raw, file: str = "<scheme>", surveys: Mapping[str, SurveyDefinition] | None = None) -> Scheme:
    """A Scheme from the mapping a YAML file holds; raises DefinitionError listing every problem."""
    problems = ProblemList(file)
    if not isinstance(raw, dict):
        problems.add("", SchemeCode.NOT_A_MAPPING)
        problems.raise_if_any()
    reader = _Reader(problems, surveys)

    for name in sorted(raw.keys() - SCHEME_FIELDS, key=str):
        problems.add("", SchemeCode.UNKNOWN_FIELD, field=name, allowed=", ".join(sorted(SCHEME_FIELDS)))
    scheme_id = raw.get("id")
    if scheme_id is None:
        problems.add("", SchemeCode.MISSING, field="id")
    elif not isinstance(scheme_id, str) or not ID_RE.fullmatch(scheme_id):
        problems.add("", SchemeCode.BAD_ID, field="id", value=scheme_id)
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.add("", SchemeCode.MISSING, field="title")
        title = ""
    texts = {name: reader.text(raw, name, "") for name in ("title_en", "source", "description")}

    questionnaire = reader.text(raw, "questionnaire", "")
    if questionnaire is not None and surveys is not None and questionnaire not in surveys:
        problems.add("", SchemeCode.UNKNOWN_QUESTIONNAIRE, questionnaire=questionnaire,
                     known=", ".join(sorted(surveys)) or "none")
        reader.survey = None
    elif questionnaire is not None and surveys is not None:
        reader.survey = surveys[questionnaire]
    reader.questionnaire = questionnaire

    combine = reader.combine(raw, "", has_children=True)
    points, points_to_fill = reader.number(raw, "points", "", minimum=0.0)
    indicators = reader.children(raw.get("indicators"), "indicators", "", combine)
    if indicators:
        reader.check_sums(indicators, points, combine, "")

    problems.raise_if_any()
    return Scheme(id=scheme_id, title=title.strip(), indicators=indicators, points=points, combine=combine,
                  points_to_fill=points_to_fill, questionnaire=questionnaire, title_en=texts["title_en"],
                  source_document=texts["source"], description=texts["description"], source=file)


def scheme_from_dict(data: dict, surveys: Mapping[str, SurveyDefinition] | None = None) -> Scheme:
    """A scheme from a stored or inline mapping (no file)."""
    return build_scheme(data, f"<scheme {data.get('id', '?') if isinstance(data, dict) else '?'}>", surveys)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Reader:
    """Builds indicators, adding every problem to one ProblemList."""

    def __init__(self, problems: ProblemList, surveys: Mapping[str, SurveyDefinition] | None):
        self.problems = problems
        self.surveys = surveys
        self.survey: SurveyDefinition | None = None
        self.questionnaire: str | None = None
        self.seen: set[str] = set()

    def text(self, raw: dict, name: str, where: str) -> str | None:
        value = raw.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problems.add(where, SchemeCode.EMPTY_TEXT, field=name)
            return None
        return value.strip()

    def number(self, raw: dict, name: str, where: str, *, minimum: float) -> tuple[float | None, bool]:
        """(value, to_fill): a number ≥ minimum, or 待填 → (None, True); absent → (None, False)."""
        value = raw.get(name)
        if value is None:
            return None, False
        if value == TO_FILL:
            return None, True
        if not _is_number(value) or value < minimum:
            self.problems.add(where, SchemeCode.BAD_TYPE, field=name,
                              expected=f"a number of at least {minimum:g}, or {TO_FILL}", got=value)
            return None, False
        return float(value), False

    def combine(self, raw: dict, where: str, *, has_children: bool) -> str:
        value = raw.get("combine", "sum")
        if "combine" in raw and not has_children:
            self.problems.add(where, SchemeCode.COMBINE_ON_LEAF)
        if value not in COMBINES:
            self.problems.add(where, SchemeCode.BAD_COMBINE, value=value)
            return "sum"
        return value

    def children(self, raw_list, field: str, where: str, combine: str) -> tuple[Indicator, ...]:
        if not isinstance(raw_list, list) or not raw_list:
            self.problems.add(where, SchemeCode.NO_INDICATORS, field=field)
            return ()
        built = (self.indicator(raw, f"{where + ' ' if where else ''}{field} {n}", combine)
                 for n, raw in enumerate(raw_list, start=1))
        return tuple(indicator for indicator in built if indicator is not None)

    def indicator(self, raw, where: str, parent_combine: str) -> Indicator | None:
        if not isinstance(raw, dict):
            self.problems.add(where, SchemeCode.BAD_TYPE, field="indicator", expected="a mapping",
                              got=type(raw).__name__)
            return None
        indicator_id = raw.get("id")
        if indicator_id is None:
            self.problems.add(where, SchemeCode.MISSING, field="id")
            return None
        if not isinstance(indicator_id, str) or not INDICATOR_ID_RE.fullmatch(indicator_id):
            self.problems.add(where, SchemeCode.BAD_INDICATOR_ID, value=indicator_id)
            return None
        where = f"indicator '{indicator_id}'"
        if indicator_id in self.seen:
            self.problems.add(where, SchemeCode.DUPLICATE_INDICATOR, id=indicator_id)
        self.seen.add(indicator_id)

        for name in sorted(raw.keys() - INDICATOR_FIELDS, key=str):
            self.problems.add(where, SchemeCode.UNKNOWN_FIELD, field=name,
                              allowed=", ".join(sorted(INDICATOR_FIELDS)))
        label = raw.get("label")
        if not isinstance(label, str) or not label.strip():
            self.problems.add(where, SchemeCode.MISSING, field="label")
            label = ""
        texts = {name: self.text(raw, name, where) for name in ("label_en", "method", "note")}
        to_fill: list[str] = []

        points, points_to_fill = self.number(raw, "points", where, minimum=0.0)
        if points_to_fill:
            to_fill.append("points")
        elif "points" not in raw and "children" not in raw and parent_combine != "weighted":
            # A parent may leave its points out: they are then the sum of its children's.
            self.problems.add(where, SchemeCode.POINTS_MISSING)

        weight = None
        if parent_combine == "weighted":
            value = raw.get("weight")
            if value is None:
                self.problems.add(where, SchemeCode.WEIGHT_MISSING)
            elif value == TO_FILL:
                to_fill.append("weight")
            elif not _is_number(value) or not 0 < value <= 1:
                self.problems.add(where, SchemeCode.WEIGHT_RANGE, value=value)
            else:
                weight = float(value)
        elif "weight" in raw:
            self.problems.add(where, SchemeCode.WEIGHT_NOT_HERE)

        has_children = "children" in raw
        combine = self.combine(raw, where, has_children=has_children)
        feeds = [name for name in FEEDS if name in raw]
        feed = None
        children: tuple[Indicator, ...] = ()
        if has_children:
            for name in feeds:
                self.problems.add(where, SchemeCode.FEED_ON_PARENT, field=name)
            children = self.children(raw["children"], "children", where, combine)
            if children:
                self.check_sums(children, points, combine, where)
        elif len(feeds) != 1:
            self.problems.add(where, SchemeCode.LEAF_FEED, got=", ".join(feeds) or "none")
        else:
            feed = getattr(self, f"feed_{feeds[0]}")(raw[feeds[0]], where, to_fill)

        return Indicator(id=indicator_id, label=label.strip(), points=points, children=children, combine=combine,
                         weight=weight, feed=feed, to_fill=tuple(to_fill), **texts)

    def check_sums(self, children: tuple[Indicator, ...], points: float | None, combine: str, where: str) -> None:
        if combine == "weighted":
            weights = [c.weight for c in children]
            given = sum(w for w in weights if w is not None)
            pending = any("weight" in c.to_fill for c in children)
            if pending and given > 1 + TOLERANCE:
                self.problems.add(where, SchemeCode.WEIGHTS_EXCEED, total=given)
            elif not pending and None not in weights and abs(given - 1) > TOLERANCE:
                self.problems.add(where, SchemeCode.WEIGHTS_SUM, total=given)
            return
        if points is None:
            return
        given = sum(c.points for c in children if c.points is not None)
        pending = any(c.points is None for c in children)
        if pending and given > points + TOLERANCE:
            self.problems.add(where, SchemeCode.POINTS_EXCEED, total=given, points=points)
        elif not pending and abs(given - points) > TOLERANCE:
            self.problems.add(where, SchemeCode.POINTS_SUM, total=given, points=points)

    # -- feeds --

    def feed_survey(self, raw, where: str, to_fill: list[str]) -> SurveyFeed | None:
        if not isinstance(raw, dict) or raw.keys() - {"tags", "measure", "linear", "thresholds"} \
                or len(raw.keys() & {"linear", "thresholds"}) != 1 or not isinstance(raw.get("tags"), list) \
                or not raw["tags"]:
            self.problems.add(where, SchemeCode.SURVEY_FORM)
            return None
        tags = []
        for tag in raw["tags"]:
            if not isinstance(tag, str) or not TAG_RE.fullmatch(tag):
                self.problems.add(where, SchemeCode.BAD_TAG, tag=tag)
            else:
                tags.append(tag)
        measure = raw.get("measure")
        if measure not in MEASURES:
            self.problems.add(where, SchemeCode.BAD_MEASURE, value=measure)
        self.check_tags(tags, where)

        linear, thresholds = None, ()
        if "linear" in raw:
            rule = raw["linear"]
            zero = rule.get("zero") if isinstance(rule, dict) else None
            full = rule.get("full") if isinstance(rule, dict) else None
            if not isinstance(rule, dict) or rule.keys() != {"zero", "full"} or not _is_number(zero) \
                    or not _is_number(full) or not 0 <= zero < full <= 100:
                self.problems.add(where, SchemeCode.LINEAR_ANCHORS, zero=zero, full=full)
                return None
            linear = LinearRule(float(zero), float(full))
        else:
            thresholds = self.thresholds(raw["thresholds"], where)
            if thresholds is None:
                return None
        return SurveyFeed(tags=tuple(tags), measure=measure, linear=linear, thresholds=thresholds)

    def thresholds(self, raw, where: str) -> tuple[Threshold, ...] | None:
        rows = raw if isinstance(raw, list) and raw else None
        ok = rows is not None and all(
            isinstance(r, dict) and r.keys() == {"at_least", "factor"} and _is_number(r["at_least"])
            and _is_number(r["factor"]) and 0 <= r["at_least"] <= 100 and 0 <= r["factor"] <= 1 for r in rows)
        if ok:
            at_least = [r["at_least"] for r in rows]
            factors = [r["factor"] for r in rows]
            ok = all(a > b for a, b in pairwise(at_least)) and all(
                a >= b for a, b in pairwise(factors))
        if not ok:
            self.problems.add(where, SchemeCode.THRESHOLDS_ORDER, value=raw)
            return None
        return tuple(Threshold(float(r["at_least"]), float(r["factor"])) for r in rows)

    def check_tags(self, tags: list[str], where: str) -> None:
        if self.surveys is None:
            return
        if self.questionnaire is None:
            self.problems.add(where, SchemeCode.NO_QUESTIONNAIRE)
            return
        if self.survey is None:  # an unknown questionnaire, reported once for the file
            return
        for tag in tags:
            items = [item for item in self.survey.items if tag in item.tags]
            if not items:
                self.problems.add(where, SchemeCode.UNKNOWN_TAG, tag=tag, questionnaire=self.questionnaire)
            elif not any(item.scale is not None for item in items):
                self.problems.add(where, SchemeCode.TAG_NOT_ON_SCALE, tag=tag, questionnaire=self.questionnaire)

    def feed_levels(self, raw, where: str, to_fill: list[str]) -> LevelsFeed | None:
        if not isinstance(raw, list) or len(raw) < 2 or not all(
                isinstance(r, dict) and r.keys() == {"factor", "label"} and isinstance(r["label"], str)
                and r["label"].strip() for r in raw):
            self.problems.add(where, SchemeCode.LEVELS_FORM)
            return None
        factors = [r["factor"] for r in raw]
        bad = [f for f in factors if not _is_number(f) or not 0 <= f <= 1]
        for value in bad:
            self.problems.add(where, SchemeCode.LEVEL_FACTOR_RANGE, value=value)
        if bad:
            return None
        if not all(a < b for a, b in pairwise(factors)):
            self.problems.add(where, SchemeCode.LEVELS_NOT_INCREASING, factors=", ".join(f"{f:g}" for f in factors))
            return None
        return LevelsFeed(levels=tuple(Level(float(r["factor"]), r["label"].strip()) for r in raw))

    def feed_standard(self, raw, where: str, to_fill: list[str]) -> StandardFeed | None:
        if not isinstance(raw, dict) or raw.keys() - {"label", "unit", "at_least", "scoring"} \
                or not isinstance(raw.get("label"), str) or not raw["label"].strip() or "at_least" not in raw \
                or raw.get("scoring") not in STANDARD_SCORINGS \
                or not (raw.get("unit") is None or isinstance(raw["unit"], str)):
            self.problems.add(where, SchemeCode.STANDARD_FORM)
            return None
        value = raw["at_least"]
        common = {"label": raw["label"].strip(), "scoring": raw["scoring"], "unit": raw.get("unit")}
        if value == TO_FILL:
            to_fill.append("at_least")
            return StandardFeed(**common, at_least_to_fill=True)
        if isinstance(value, dict):
            if not value or value.keys() - set(COMMUNITY_KINDS):
                self.problems.add(where, SchemeCode.STANDARD_FORM)
                return None
            bad = [v for v in value.values() if not _is_number(v) or v <= 0]
            for v in bad:
                self.problems.add(where, SchemeCode.STANDARD_VALUE, value=v)
            if bad:
                return None
            by_kind = tuple((kind, float(value[kind])) for kind in COMMUNITY_KINDS if kind in value)
            return StandardFeed(**common, at_least_by_kind=by_kind)
        if not _is_number(value) or value <= 0:
            self.problems.add(where, SchemeCode.STANDARD_VALUE, value=value)
            return None
        return StandardFeed(**common, at_least=float(value))

    def feed_entered(self, raw, where: str, to_fill: list[str]) -> EnteredFeed | None:
        if not isinstance(raw, dict) or raw.keys() != {"label"} or not isinstance(raw["label"], str) \
                or not raw["label"].strip():
            self.problems.add(where, SchemeCode.ENTERED_FORM)
            return None
        return EnteredFeed(label=raw["label"].strip())

    def feed_to_fill(self, raw, where: str, to_fill: list[str]) -> ToFillFeed | None:
        if not isinstance(raw, str) or not raw.strip():
            self.problems.add(where, SchemeCode.TO_FILL_FORM)
            return None
        return ToFillFeed(reason=raw.strip())
