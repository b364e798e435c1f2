"""Reading questionnaire definitions: YAML → raw mappings → dataclasses → checks.

Every problem in a file is collected and reported together, each naming the file,
the item and what to fix; a file with any problem is rejected whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import yaml

from .errors import Code, DefinitionError, ProblemList
from .forms import CONTROL_FIELDS, SurveyForm
from .model import Item, Scale, Section, ShowIf, SurveyDefinition
from .scales import build_scale
from .types import COMMON_FIELDS, ITEM_TYPES

ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
ITEM_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
TAG_RE = re.compile(r"^[a-z][a-z0-9_-]*:[A-Za-z0-9_.\-]+$")
SURVEY_FIELDS = {"id", "title", "title_en", "intro", "outro", "sections", "scales"}
SCALES_FILE = "scales.yaml"
#: Names the form itself uses: an item named so would clash with the form's own fields or methods.
RESERVED_KEYS = CONTROL_FIELDS | {name for name in dir(SurveyForm) if not name.startswith("_")} \
    | {"hidden", "definition", "meta", "form_errors"}


def load_survey_file(path: str | Path, scales: dict[str, Scale] | None = None) -> SurveyDefinition:
    """Load one definition file; raises DefinitionError listing every problem found."""
    path = Path(path)
    if scales is None:
        scales = load_scales(path.parent / SCALES_FILE)
    raw = _read_yaml(path)
    return build_survey(raw, str(path), scales)


def load_all(directory: str | Path) -> dict[str, SurveyDefinition]:
    """Every definition in a folder by id; raises DefinitionError with all problems of all files."""
    directory = Path(directory)
    problems = []
    scales = {}
    try:
        scales = load_scales(directory / SCALES_FILE)
    except DefinitionError as e:
        problems.extend(e.problems)
    surveys: dict[str, SurveyDefinition] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == SCALES_FILE:
            continue
        try:
            definition = load_survey_file(path, scales)
        except DefinitionError as e:
            problems.extend(e.problems)
            continue
        if definition.id in surveys:
            pl = ProblemList(str(path))
            pl.add("", Code.DUPLICATE_SURVEY_ID, id=definition.id, other=surveys[definition.id].source)
            problems.extend(pl.problems)
            continue
        surveys[definition.id] = definition
    if problems:
        raise DefinitionError(problems)
    return surveys


def definition_from_dict(data: dict) -> SurveyDefinition:
    """Rebuild a stored version's definition (its scales are inline)."""
    return build_survey(data, f"<stored {data.get('id', '?')}>", {})


_stored: dict[str, SurveyDefinition] = {}


def stored_definition(content_hash: str, load: Callable[[], dict]) -> SurveyDefinition:
    """A stored definition, rebuilt once per process and then shared.

    Equal content hash, equal definition: the cache needs no invalidation, and the
    submit path neither reads the stored JSON nor rebuilds it on every request.
    """
    # Stored versions are rebuilt with today's loader. A change that would refuse a
    # definition already stored (and answered) must come with a data migration.
    definition = _stored.get(content_hash)
    if definition is None:
        definition = _stored[content_hash] = definition_from_dict(load())
    return definition


def load_scales(path: Path) -> dict[str, Scale]:
    if not path.exists():
        return {}
    raw = _read_yaml(path)
    problems = ProblemList(str(path))
    if not isinstance(raw, dict):
        problems.add("", Code.NOT_A_MAPPING)
        problems.raise_if_any()
    scales = {key: build_scale(key, value, problems) for key, value in raw.items()}
    problems.raise_if_any()
    return scales


def _read_yaml(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise DefinitionError(_single(str(path), Code.YAML, detail=str(e).replace("\n", " "))) from e


def _optional_text(raw: dict, name: str, where: str, problems: ProblemList) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        problems.add(where, Code.BAD_TYPE, field=name, expected="text", got=type(value).__name__)
        return None
    return value


def _single(file: str, code: Code, **values):
    pl = ProblemList(file)
    pl.add("", code, **values)
    return pl.problems


def build_survey(raw, file: str, scales: dict[str, Scale]) -> SurveyDefinition:
    problems = ProblemList(file)
    if not isinstance(raw, dict):
        problems.add("", Code.NOT_A_MAPPING)
        problems.raise_if_any()

    for name in raw.keys() - SURVEY_FIELDS:
        problems.add("", Code.UNKNOWN_FIELD, field=name, allowed=", ".join(sorted(SURVEY_FIELDS)))
    survey_id = raw.get("id")
    if survey_id is None:
        problems.add("", Code.MISSING, field="id")
    elif not isinstance(survey_id, str) or not ID_RE.fullmatch(survey_id):
        problems.add("", Code.BAD_ID, field="id", value=survey_id)
    for name in ("title",):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            problems.add("", Code.MISSING, field=name)

    texts = {name: _optional_text(raw, name, "", problems) for name in ("title_en", "intro", "outro")}

    scales = dict(scales)
    own_scales = raw.get("scales") or {}
    if not isinstance(own_scales, dict):
        problems.add("", Code.BAD_TYPE, field="scales", expected="a mapping of name to scale",
                     got=type(own_scales).__name__)
        own_scales = {}
    for key, value in own_scales.items():
        scale = build_scale(str(key), value, problems)
        if scale:
            scales[str(key)] = scale

    sections_raw = raw.get("sections")
    if not isinstance(sections_raw, list) or not sections_raw:
        problems.add("", Code.MISSING, field="sections")
        sections_raw = []

    seen: dict[str, Item] = {}
    sections = []
    for number, section_raw in enumerate(sections_raw, start=1):
        where = f"section {number}"
        if not isinstance(section_raw, dict) or not isinstance(section_raw.get("items"), list):
            problems.add(where, Code.MISSING, field="items")
            continue
        for name in section_raw.keys() - {"title", "items"}:
            problems.add(where, Code.UNKNOWN_FIELD, field=name, allowed="title, items")
        section_title = _optional_text(section_raw, "title", where, problems)
        items = []
        for position, item_raw in enumerate(section_raw["items"], start=1):
            item = _build_item(item_raw, f"{where} item {position}", problems, scales, seen)
            if item is not None:
                seen[item.key] = item
                items.append(item)
        sections.append(Section(title=section_title, items=tuple(items)))

    if not seen and sections_raw:
        problems.add("", Code.NO_ITEMS)
    problems.raise_if_any()
    return SurveyDefinition(id=survey_id, title=raw["title"].strip(), sections=tuple(sections),
                            source=file, **texts)


def _build_item(raw, where: str, problems: ProblemList, scales: dict, seen: dict[str, Item]) -> Item | None:
    if not isinstance(raw, dict):
        problems.add(where, Code.BAD_TYPE, field="item", expected="a mapping", got=type(raw).__name__)
        return None
    key = raw.get("key")
    if key is None:
        problems.add(where, Code.MISSING, field="key")
        return None
    if not isinstance(key, str) or not ITEM_KEY_RE.fullmatch(key):
        problems.add(where, Code.BAD_ID, field="key", value=key)
        return None
    where = f"item '{key}'"
    if key in RESERVED_KEYS:
        problems.add(where, Code.RESERVED_KEY, key=key)
        return None
    if key in seen:
        problems.add(where, Code.DUPLICATE_KEY, key=key)
        return None

    type_name = raw.get("type")
    item_type = ITEM_TYPES.get(type_name) if isinstance(type_name, str) else None
    if item_type is None:
        problems.add(where, Code.UNKNOWN_ITEM_TYPE, type=type_name, allowed=", ".join(ITEM_TYPES))
        return None
    allowed = COMMON_FIELDS | item_type.fields
    all_type_fields = set().union(*(t.fields for t in ITEM_TYPES.values()))
    for name in raw.keys() - allowed:
        if name in all_type_fields:
            problems.add(where, Code.FIELD_NOT_FOR_TYPE, field=name, type=type_name)
        else:
            problems.add(where, Code.UNKNOWN_FIELD, field=name, allowed=", ".join(sorted(allowed)))

    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.add(where, Code.MISSING, field="text")
        text = ""
    required = raw.get("required", False)
    if not isinstance(required, bool):
        problems.add(where, Code.BAD_TYPE, field="required", expected="true or false", got=type(required).__name__)
        required = False

    tags = raw.get("tags")
    if not isinstance(tags, list) or not tags:
        problems.add(where, Code.NO_TAGS)
        tags = []
    for tag in tags:
        if not isinstance(tag, str) or not TAG_RE.fullmatch(tag):
            problems.add(where, Code.BAD_TAG, tag=tag)

    show_if = _build_show_if(raw.get("show_if"), where, problems, seen)
    specific = item_type.build(raw, where, problems, scales)
    return Item(key=key, type=type_name, text=text.strip(), tags=tuple(t for t in tags if isinstance(t, str)),
                required=required, text_en=_optional_text(raw, "text_en", where, problems),
                help=_optional_text(raw, "help", where, problems), show_if=show_if, **specific)


def _build_show_if(raw, where: str, problems: ProblemList, seen: dict[str, Item]) -> ShowIf | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "item" not in raw or len(raw.keys() & {"equals", "in"}) != 1 \
            or raw.keys() - {"item", "equals", "in"}:
        problems.add(where, Code.SHOW_IF_FORM)
        return None
    target_key = raw["item"]
    target = seen.get(target_key) if isinstance(target_key, str) else None
    if target is None:
        problems.add(where, Code.SHOW_IF_UNKNOWN, target=target_key)
        return None
    if not ITEM_TYPES[target.type].is_choice:
        problems.add(where, Code.SHOW_IF_NOT_CHOICE, target=target_key, type=target.type)
        return None
    values = raw["in"] if "in" in raw else [raw["equals"]]
    if not isinstance(values, list) or not values:
        problems.add(where, Code.SHOW_IF_FORM)
        return None
    values = [str(v) for v in values]
    for value in values:
        if value not in target.codes:
            problems.add(where, Code.SHOW_IF_BAD_VALUE, value=value, target=target_key,
                         codes=", ".join(c.code for c in target.choices))
    return ShowIf(item=target_key, values=frozenset(values))
