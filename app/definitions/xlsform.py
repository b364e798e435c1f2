"""Importing an XLSForm (the ODK / KoboToolbox workbook) as a definition in surveys/.

Three stages, as pyxform itself works:

1. read — pyxform reads the workbook and checks it is a well-formed XLSForm; its own
   header handling gives each survey and choices row with its sheet row number;
2. build — each survey row is mapped through ``QUESTION_TYPES`` to one of our item types.
   Whatever cannot be carried over is *refused* (collected, never raised one by one);
   whatever is carried over with a loss (a note, a display column, a constraint too
   complex for min/max) is a *warning*;
3. validate — the YAML text we would write is read back by our own loader, so a file
   this module writes always passes ``surveys check``.
"""

from __future__ import annotations

import copy
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pyxform import aliases, constants
from pyxform.errors import PyXFormError
from pyxform.parsing.sheet_headers import dealias_and_group_headers
from pyxform.question import MultipleChoiceQuestion, Option
from pyxform.question_type_dictionary import QUESTION_TYPE_DICT
from pyxform.xls2json import RE_BEGIN_CONTROL, RE_END_CONTROL, RE_SELECT, workbook_to_json
from pyxform.xls2json_backends import get_xlsform

from .choices import CODE_RE
from .errors import DefinitionError
from .loader import ID_RE, ITEM_KEY_RE, RESERVED_KEYS, SCALES_FILE, TAG_RE, build_survey, load_scales
from .model import Scale, SurveyDefinition
from .types import NUMBER_LIMIT, TEXT_LIMIT


#: XLSForm metadata rows: recorded by the phone, not asked of the resident.
METADATA_TYPES = frozenset({"start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber",
                            "username", "email", "audit", "start-geopoint"})


class Refusal(enum.Enum):
    """What cannot be carried over; any one of them and nothing is written."""

    NOT_XLSFORM = "pyxform cannot read this as an XLSForm: {detail}"
    UNSUPPORTED_TYPE = "unsupported type '{type}'{why}"
    NO_NAME = "a question needs a name"
    BAD_KEY = "name '{name}' cannot be an item key: use a letter, then letters, digits or _ (at most 32)"
    RESERVED_KEY = "name '{name}' is a name our form itself uses; choose another"
    DUPLICATE_KEY = "name '{name}' is the same key '{key}' as row {other} (keys are lowercase)"
    NO_LABEL = "the question has no label"
    LIST_MISSING = "choice list '{list}' is not on the choices sheet"
    LIST_TOO_SHORT = "choice list '{list}' needs at least two choices"
    CHOICE_CODE = "choice name {code!r} in list '{list}' must be 1-32 letters, digits, '-' or '_'"
    CHOICE_LABEL = "choice '{code}' in list '{list}' has no label"
    CHOICE_DUPLICATE = "choice '{code}' appears twice in list '{list}'"
    RELEVANT_FORM = ("relevant {expr!r} is too complex: we carry over only ${{q}} = 'x', "
                     "selected(${{q}}, 'x') and 'or' of those on one question")
    RELEVANT_TARGET = "relevant refers to ${{{target}}}, which is not an earlier question carried over"
    RELEVANT_NOT_CHOICE = "relevant refers to ${{{target}}}, a {type} item; a condition can only follow a choice"
    RELEVANT_VALUE = "relevant value {value!r} is not a choice of ${{{target}}} (choices: {codes})"
    RELEVANT_EQUALS_MULTIPLE = ("relevant {expr!r} compares select_multiple ${{{target}}} with '='; "
                                "write selected(${{{target}}}, 'x') instead")
    RELEVANT_TWICE = "relevant on both this row and its group (row {group_row}); we carry one condition only"
    COLUMN = "column '{column}' ({value!r}) changes what is asked or stored; we have no equivalent"
    BAD_TAG = "tag {tag!r} must look like 'scheme:indicator' (e.g. kunming:II-14.4)"
    BAD_ID = "cannot make a survey id from {value!r}; pass --id (lowercase letters, digits, - or _)"
    EXISTS = "{path} already exists; pass --force to overwrite it"
    ID_TAKEN = "the survey id '{id}' is already used by {other}; pass another --id"
    INVALID = "{detail}"


class Caution(enum.Enum):
    """What is carried over with a loss; printed, but the file is written."""

    NOTE = "note dropped (we have no display-only items); copy its words into intro or a help if needed"
    METADATA = ("metadata '{type}' dropped: Minyi records when a form is shown and sent by itself, "
                "and collects no device or phone identifiers")
    NESTED_GROUP = "group inside group '{outer}': its questions stay in the section '{title}'"
    CONSTRAINT = "constraint {expr!r} dropped: only simple bounds ({forms}) are carried over"
    REQUIRED_EXPR = "required {expr!r} is a condition; the item was made optional"
    COLUMN = "column '{column}' dropped ({rows}): {why}"
    LABEL_REFERENCE = "the label shows ${{{target}}}, which residents will read literally; rewrite it"
    LIKERT_ORDER = "choice list '{list}' matches scale '{scale}' and is shown in the scale's order (best first)"
    NO_TITLE = "the settings sheet has no form_title; the title is '{title}': write a Chinese one"
    PLACEHOLDER_TAGS = ("items without tags got the tag '{tag}' ({where}): replace it with the real "
                        "indicator tags (surveys/README.md, Tags)")
    DISABLED = "row disabled in the workbook; skipped"


@dataclass(frozen=True)
class Finding:
    """One refusal or warning, named by file, sheet row and question name."""

    file: str
    code: Refusal | Caution
    message: str
    sheet: str | None = None
    row: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        """form.xlsx: survey row 7 (age): unsupported type 'date'"""
        where = " ".join(str(part) for part in (self.sheet, "row" if self.row is not None else None, self.row)
                         if part is not None)
        where += f" ({self.name})" if self.name else ""
        return f"{self.file}:{' ' + where + ':' if where else ''} {self.message}"


class XLSFormRefused(ValueError):
    """The workbook cannot be imported; ``refusals`` lists every reason, ``warnings`` the rest."""

    def __init__(self, refusals: list[Finding], warnings: list[Finding] = ()):
        self.refusals = refusals
        self.warnings = list(warnings)
        super().__init__("\n".join(str(f) for f in refusals))


@dataclass
class Conversion:
    """A converted workbook: the definition as written and what was lost on the way."""

    survey_id: str
    yaml_text: str
    definition: SurveyDefinition
    warnings: list[Finding] = field(default_factory=list)
    #: Where the file goes: ``folder/<id>.yaml``.
    path: Path | None = None


class _Findings:
    def __init__(self, file: str):
        self.file = file
        self.refusals: list[Finding] = []
        self.warnings: list[Finding] = []

    def refuse(self, code: Refusal, sheet: str | None = None, row: int | None = None, name: str | None = None,
               /, **values) -> None:
        self.refusals.append(Finding(self.file, code, code.value.format(**values), sheet, row, name))

    def warn(self, code: Caution, sheet: str | None = None, row: int | None = None, name: str | None = None,
             /, **values) -> None:
        self.warnings.append(Finding(self.file, code, code.value.format(**values), sheet, row, name))


# -- stage 1: read ------------------------------------------------------------------

@dataclass
class _Workbook:
    survey_rows: tuple[dict, ...]
    choice_rows: tuple[dict, ...]
    has_tags_column: bool
    form_id: str
    title: str | None


def _read(path: Path, findings: _Findings) -> _Workbook | None:
    try:
        data = get_xlsform(str(path))
        # pyxform's own conversion is the check that this is an XLSForm (groups closed,
        # choice lists present, names unique, ${…} references known).
        form = workbook_to_json(copy.deepcopy(data), fallback_form_name=data.fallback_form_name, warnings=[])
        language = form.get(constants.DEFAULT_LANGUAGE_KEY, constants.DEFAULT_LANGUAGE_VALUE)
        survey = dealias_and_group_headers(
            sheet_name=constants.SURVEY, sheet_data=data.survey or (), sheet_header=data.survey_header,
            header_aliases=aliases.survey_header, header_columns=set(MultipleChoiceQuestion.get_slot_names()),
            default_language=language, strip_whitespace=True, add_row_number=True)
        choices = dealias_and_group_headers(
            sheet_name=constants.CHOICES, sheet_data=data.choices or (), sheet_header=data.choices_header,
            header_aliases=aliases.list_header, header_columns=set(Option.get_slot_names()),
            default_language=language, add_row_number=True)
    except PyXFormError as e:
        findings.refuse(Refusal.NOT_XLSFORM, detail=" ".join(str(e).split()))
        return None
    settings = (data.settings or [{}])[0]
    has_title = any(h.strip().lower() in ("form_title", "set_form_title", "title") for h in settings)
    title = form.get(constants.TITLE) if has_title else None
    return _Workbook(
        survey_rows=survey.data, choice_rows=choices.data,
        has_tags_column=any(h[0].lower() == "tags" for h in survey.headers),
        form_id=str(form.get(constants.ID_STRING) or path.stem),
        title=_pick_language(title)[0] if title else None)


# -- stage 2: build -----------------------------------------------------------------

_CHINESE = re.compile(r"chinese|中文|汉语|漢語|简体|繁體|(?<![a-z])zh(?![a-z])", re.IGNORECASE)
_ENGLISH = re.compile(r"english|(?<![a-z])en(?![a-z])", re.IGNORECASE)


def _pick_language(value) -> tuple[str | None, str | None]:
    """(Chinese or default text, English text if there is also a Chinese one) of a translatable cell."""
    if value is None or isinstance(value, str):
        return (value or None), None
    chinese = next((lang for lang in value if _CHINESE.search(lang)), None)
    picked = chinese or (constants.DEFAULT_LANGUAGE_VALUE if constants.DEFAULT_LANGUAGE_VALUE in value
                         else next(iter(value), None))
    english = next((lang for lang in value if _ENGLISH.search(lang) and lang != picked), None) if chinese else None
    text = value.get(picked) if picked else None
    return (str(text) if text else None), (str(value[english]) if english and value[english] else None)


_NAME_REF = r"\$\{(?P<target>[^}\s]+)\}"
_VALUE = r"(?:'(?P<q1>[^']*)'|\"(?P<q2>[^\"]*)\"|(?P<num>-?\d+))"
_EQUALS = re.compile(rf"^{_NAME_REF}\s*=\s*{_VALUE}$")
_SELECTED = re.compile(rf"^selected\(\s*{_NAME_REF}\s*,\s*{_VALUE}\s*\)$")


def _relevant_terms(expr: str) -> list[tuple[str, str, str]] | None:
    """[(form, target name, value)] for `a or b or …` of simple terms; None if anything else."""
    terms = []
    for term in re.split(r"\s+or\s+", _unwrap(expr)):
        term = _unwrap(term)
        for form, pattern in (("=", _EQUALS), ("selected", _SELECTED)):
            m = pattern.fullmatch(term)
            if m:
                value = next(v for v in (m["q1"], m["q2"], m["num"]) if v is not None)
                terms.append((form, m["target"], value))
                break
        else:
            return None
    return terms


def _unwrap(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


_NUMBER = r"-?\d+(?:\.\d+)?"
_BOUND = re.compile(rf"^(?P<subject>\.|string-length\(\s*\.\s*\)|count-selected\(\s*\.\s*\))\s*"
                    rf"(?P<op>>=|<=|>|<)\s*(?P<n>{_NUMBER})$")
_BOUND_REVERSED = re.compile(rf"^(?P<n>{_NUMBER})\s*(?P<op>>=|<=|>|<)\s*"
                             rf"(?P<subject>\.|string-length\(\s*\.\s*\)|count-selected\(\s*\.\s*\))$")
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}


def _bounds(expr: str, subject: str, whole: bool) -> tuple[float | int | None, float | int | None] | None:
    """(low, high) of `SUBJECT >= a and SUBJECT <= b` (either bound optional); None if not that simple.

    Strict bounds are kept only for whole numbers, where `. > 0` is `. >= 1`.
    """
    low = high = None
    for term in re.split(r"\s+and\s+", _unwrap(expr)):
        term = _unwrap(term)
        m = _BOUND.fullmatch(term)
        op = m["op"] if m else None
        if m is None:
            m = _BOUND_REVERSED.fullmatch(term)
            op = _FLIP[m["op"]] if m else None
        if m is None or re.sub(r"\s", "", m["subject"]) != subject:
            return None
        n = float(m["n"])
        if n == int(n) and "." not in m["n"]:
            n = int(n)
        if op in (">", "<"):
            if not whole or not isinstance(n, int):
                return None
            n, op = (n + 1, ">=") if op == ">" else (n - 1, "<=")
        if op == ">=":
            if low is not None:
                return None
            low = n
        else:
            if high is not None:
                return None
            high = n
    return low, high


#: The constraints carried over, by item type: (subject, whole numbers only, the form for a warning).
_CONSTRAINTS = {
    "number": (".", False, ". >= a and . <= b, a <= b"),
    "integer": (".", True, ". >= a and . <= b, a <= b"),
    "text": ("string-length(.)", True, f"string-length(.) <= n, n at most {TEXT_LIMIT}"),
    "multiple": ("count-selected(.)", True, "count-selected(.) >= a and count-selected(.) <= b, within the choices"),
}


@dataclass
class _Row:
    """One survey row being built into an item."""

    number: int
    raw: dict
    name: str | None
    findings: _Findings

    def refuse(self, code: Refusal, **values) -> None:
        self.findings.refuse(code, constants.SURVEY, self.number, self.name, **values)

    def warn(self, code: Caution, **values) -> None:
        self.findings.warn(code, constants.SURVEY, self.number, self.name, **values)

    @property
    def bind(self) -> dict:
        return self.raw.get("bind") or {}


class _Builder:
    """Walks the survey rows once, building sections of raw items in our format."""

    def __init__(self, workbook: _Workbook, survey_id: str, scales: dict[str, Scale], findings: _Findings):
        self.workbook, self.survey_id, self.scales, self.findings = workbook, survey_id, scales, findings
        self.lists = self._choice_lists(workbook.choice_rows)
        self.checked_lists: dict[str, list[dict] | None] = {}
        self.sections: list[dict] = []
        self.section: dict | None = None
        #: open groups, outermost first: {name, row, relevant as written, show_if it became}
        self.groups: list[dict] = []
        #: items built so far by XLSForm name, for relevant to refer to
        self.items: dict[str, dict] = {}
        #: our keys so far and the row each came from
        self.keys: dict[str, int] = {}
        self.untagged: list[int] = []
        self.dropped_columns: dict[str, tuple[str, list[int]]] = {}

    # the rows

    def build(self) -> list[dict]:
        for raw in self.workbook.survey_rows:
            number = raw.get("__row")
            row = _Row(number, raw, raw.get(constants.NAME), self.findings)
            content = {k: v for k, v in raw.items() if k != "__row"}
            if not content:
                continue
            if aliases.yes_no.get(str(raw.get("disabled", "")).strip()) is True:
                row.warn(Caution.DISABLED)
                continue
            type_text = str(raw.get(constants.TYPE) or "").strip()
            if not type_text:
                continue  # pyxform skips rows without type, name or label as comments
            self._row(row, " ".join(type_text.split()))
        self._warn_dropped_columns()
        self._warn_placeholder_tags()
        return [s for s in self.sections if s["items"]]

    def _row(self, row: _Row, type_text: str) -> None:
        if m := RE_BEGIN_CONTROL.fullmatch(type_text):
            self._begin_group(row, m["type"], type_text)
        elif RE_END_CONTROL.fullmatch(type_text):
            if self.groups:
                self.groups.pop()
            if not self.groups:
                self.section = None
        elif m := RE_SELECT.fullmatch(type_text):
            command = aliases.select[m["select_command"]]
            if m["specify_other"]:
                row.refuse(Refusal.UNSUPPORTED_TYPE, type=type_text,
                           why=": 'or other' adds a free-text answer; ask it as a separate text item")
            elif m["select_command"] in aliases.select_from_file or command not in QUESTION_BUILDERS:
                row.refuse(Refusal.UNSUPPORTED_TYPE, type=type_text, why="")
            else:
                self._question(row, command, list_name=m["list_name"])
        elif type_text in METADATA_TYPES:
            # KoboToolbox puts start and end into every new form: drop them, do not refuse the form.
            row.warn(Caution.METADATA, type=type_text)
        else:
            kind = _question_kind(type_text)
            if kind is None:
                row.refuse(Refusal.UNSUPPORTED_TYPE, type=type_text, why="")
            elif kind == "note":
                row.warn(Caution.NOTE)
            else:
                self._question(row, kind)

    def _begin_group(self, row: _Row, control: str, type_text: str) -> None:
        if control != constants.GROUP:
            row.refuse(Refusal.UNSUPPORTED_TYPE, type=type_text, why=": repeated groups have no equivalent")
        title, _ = _pick_language(row.raw.get(constants.LABEL))
        relevant = (row.bind.get("relevant") or "").strip()
        show_if = None
        if relevant:
            outer = next((g for g in reversed(self.groups) if g["relevant"]), None)
            if outer:
                row.refuse(Refusal.RELEVANT_TWICE, group_row=outer["row"])
            else:
                show_if = self._show_if(row, relevant)
        self._check_columns(row)
        if self.groups:
            outer = self.groups[0]
            row.warn(Caution.NESTED_GROUP, outer=outer["name"] or f"row {outer['row']}",
                     title=(self.section or {}).get("title") or "(untitled)")
        else:
            self.section = {"title": title, "items": []}
            self.sections.append(self.section)
        self.groups.append({"name": row.name, "row": row.number, "show_if": show_if, "relevant": relevant})

    def _question(self, row: _Row, kind: str, list_name: str | None = None) -> None:
        if not row.name:
            row.refuse(Refusal.NO_NAME)
            return
        key = str(row.name).lower()
        if not ITEM_KEY_RE.fullmatch(key):
            row.refuse(Refusal.BAD_KEY, name=row.name)
            key = None
        elif key in RESERVED_KEYS:
            row.refuse(Refusal.RESERVED_KEY, name=row.name)
            key = None
        elif key in self.keys:
            row.refuse(Refusal.DUPLICATE_KEY, name=row.name, key=key, other=self.keys[key])
            key = None
        else:
            self.keys[key] = row.number
        text, text_en = _pick_language(row.raw.get(constants.LABEL))
        if not text:
            row.refuse(Refusal.NO_LABEL)
        for target in re.findall(_NAME_REF, text or ""):
            row.warn(Caution.LABEL_REFERENCE, target=target)
        help_text, _ = _pick_language(row.raw.get(constants.HINT))

        item: dict = {"key": key, "type": None}
        show_if = self._item_show_if(row)
        if show_if:
            item["show_if"] = show_if
        item["text"] = text
        if text_en:
            item["text_en"] = text_en
        if help_text:
            item["help"] = help_text
        required = self._required(row)
        if required:
            item["required"] = True
        item.update(QUESTION_BUILDERS[kind](self, row, list_name))
        self._check_columns(row)
        item["tags"] = self._tags(row)
        if key is None or item["type"] is None:
            return
        self.items[row.name] = item
        if self.section is None:
            self.section = {"title": None, "items": []}
            self.sections.append(self.section)
        self.section["items"].append(_ordered(item))

    # the parts of a question

    def _required(self, row: _Row) -> bool:
        value = str(row.bind.get("required") or "").strip()
        if not value:
            return False
        flag = aliases.yes_no.get(value)
        if flag is None:
            row.warn(Caution.REQUIRED_EXPR, expr=value)
            return False
        return flag

    def _item_show_if(self, row: _Row) -> dict | None:
        relevant = (row.bind.get("relevant") or "").strip()
        group = next((g for g in reversed(self.groups) if g["relevant"]), None)
        if relevant and group:
            row.refuse(Refusal.RELEVANT_TWICE, group_row=group["row"])
            return None
        if relevant:
            return self._show_if(row, relevant)
        return copy.deepcopy(group["show_if"]) if group else None

    def _show_if(self, row: _Row, expr: str) -> dict | None:
        terms = _relevant_terms(expr)
        if not terms or len({target for _, target, _ in terms}) != 1:
            row.refuse(Refusal.RELEVANT_FORM, expr=expr)
            return None
        target = terms[0][1]
        item = self.items.get(target)
        if item is None:
            row.refuse(Refusal.RELEVANT_TARGET, target=target)
            return None
        if item["type"] not in ("single", "multiple", "likert"):
            row.refuse(Refusal.RELEVANT_NOT_CHOICE, target=target, type=item["type"])
            return None
        if item["type"] == "multiple" and any(form == "=" for form, _, _ in terms):
            row.refuse(Refusal.RELEVANT_EQUALS_MULTIPLE, expr=expr, target=target)
            return None
        codes = _item_codes(item, self.scales)
        values = list(dict.fromkeys(value for _, _, value in terms))
        bad = [v for v in values if v not in codes]
        for value in bad:
            row.refuse(Refusal.RELEVANT_VALUE, value=value, target=target, codes=", ".join(codes))
        if bad:
            return None
        key = item["key"]
        return FlowMap(item=key, equals=values[0]) if len(values) == 1 else FlowMap(item=key, **{"in": FlowList(values)})

    def constraint(self, row: _Row, kind: str, check: Callable[[object, object], bool] = lambda low, high: True):
        """(low, high) of the row's constraint when it is a simple bound of this kind that passes
        ``check``; otherwise the constraint is dropped with a warning and (None, None) returned."""
        expr = (row.bind.get("constraint") or "").strip()
        if not expr:
            return None, None
        subject, whole, forms = _CONSTRAINTS.get(kind, (None, False, "none for this type"))
        found = _bounds(expr, subject, whole) if subject else None
        if found is None or not check(*found):
            row.warn(Caution.CONSTRAINT, expr=expr, forms=forms)
            return None, None
        return found

    def _tags(self, row: _Row) -> list[str]:
        cell = next((v for k, v in row.raw.items() if isinstance(k, str) and k.lower() == "tags"), None)
        tags = [t for t in re.split(r"[\s,，、;；]+", str(cell or "")) if t]
        for tag in tags:
            if not TAG_RE.fullmatch(tag):
                row.refuse(Refusal.BAD_TAG, tag=tag)
        if not tags:
            self.untagged.append(row.number)
            tags = [self.placeholder_tag]
        return FlowList(tags)

    @property
    def placeholder_tag(self) -> str:
        return f"xlsform:{self.survey_id}"

    #: Columns we read, or that only change how ODK shows a question; anything else found on
    #: a row is reported.
    _READ = {"type", "name", "label", "hint", "bind::required", "bind::relevant", "bind::constraint",
             "__row", "disabled"}
    _DISPLAY = {
        "bind::jr:constraintMsg": ("constraint_message", "our forms write their own messages"),
        "bind::jr:requiredMsg": ("required_message", "our forms write their own messages"),
        "control::appearance": ("appearance", "it only changes how ODK/Kobo shows a question"),
        "control::autoplay": ("autoplay", "it only changes how ODK/Kobo shows a question"),
        "control::rows": ("rows", "it only changes how ODK/Kobo shows a question"),
        "guidance_hint": ("guidance_hint", "it is for enumerators, not residents"),
        "default": ("default", "residents start from an empty answer"),
        "parameters": ("parameters", "ODK display options (e.g. randomize) are not carried over"),
        "media": ("media", "we show no images, audio or video in questions"),
    }
    _BEHAVIOUR = {"bind::readonly": "read_only", "bind::calculate": "calculation", "choice_filter": "choice_filter",
                  "trigger": "trigger", "control::jr:count": "repeat_count"}

    def _check_columns(self, row: _Row) -> None:
        for column, value in _flat_columns(row.raw):
            if column in self._READ or column.lower() == "tags":
                continue
            if column in self._BEHAVIOUR:
                if column == "bind::readonly" and aliases.yes_no.get(str(value).strip()) is False:
                    continue
                row.refuse(Refusal.COLUMN, column=self._BEHAVIOUR[column], value=value)
                continue
            label, why = self._DISPLAY.get(column, self._DISPLAY.get(column.split("::")[0], (None, None)))
            if label is None:
                label, why = column, "not an XLSForm column we use"
            self.dropped_columns.setdefault(label, (why, []))[1].append(row.number)

    def _warn_dropped_columns(self) -> None:
        for column, (why, rows) in self.dropped_columns.items():
            self.findings.warn(Caution.COLUMN, constants.SURVEY, column=column, rows=_rows(rows), why=why)

    def _warn_placeholder_tags(self) -> None:
        if not self.untagged:
            return
        where = ("no tags column on the survey sheet" if not self.workbook.has_tags_column
                 else "survey " + _rows(self.untagged))
        self.findings.warn(Caution.PLACEHOLDER_TAGS, constants.SURVEY, tag=self.placeholder_tag, where=where)

    # choice lists

    @staticmethod
    def _choice_lists(rows) -> dict[str, list[dict]]:
        lists: dict[str, list[dict]] = {}
        for raw in rows:
            list_name = raw.get(constants.LIST_NAME_S)
            if list_name:
                lists.setdefault(str(list_name), []).append(raw)
        return lists

    def options(self, row: _Row, list_name: str) -> list[dict] | None:
        """The list's choices as our options; its problems refused once, at the choices rows."""
        if list_name in self.checked_lists:
            return self.checked_lists[list_name]
        rows = self.lists.get(list_name)
        options: list[dict] | None = []
        if rows is None:
            row.refuse(Refusal.LIST_MISSING, list=list_name)
            options = None
        else:
            seen = set()
            for raw in rows:
                code = str(raw.get(constants.NAME) or "")
                label, _ = _pick_language(raw.get(constants.LABEL))
                problem = (Refusal.CHOICE_CODE if not CODE_RE.fullmatch(code) else
                           Refusal.CHOICE_DUPLICATE if code in seen else
                           Refusal.CHOICE_LABEL if not label else None)
                if problem:
                    self.findings.refuse(problem, constants.CHOICES, raw.get("__row"), None, code=code, list=list_name)
                    options = None
                    continue
                seen.add(code)
                if options is not None:
                    options.append(FlowMap(code=code, label=label.strip()))
            if options is not None and len(options) < 2:
                row.refuse(Refusal.LIST_TOO_SHORT, list=list_name)
                options = None
        self.checked_lists[list_name] = options
        return options

    def matching_scale(self, options: list[dict]) -> str | None:
        """The named scale whose codes and labels are exactly this list's, if any."""
        pairs = [(o["code"], o["label"]) for o in options]
        for name, scale in self.scales.items():
            scale_pairs = [(c.code, c.label) for c in scale.choices]
            if sorted(pairs) == sorted(scale_pairs):
                return name
        return None


def _rows(numbers: list[int]) -> str:
    numbers = list(dict.fromkeys(numbers))
    return ("row " if len(numbers) == 1 else "rows ") + ", ".join(str(n) for n in numbers)


def _flat_columns(raw: dict):
    """(column, value) of a dealiased row: bind::required, control::appearance, media::image, …"""
    for key, value in raw.items():
        if key in (constants.LABEL, constants.HINT) or not isinstance(value, dict):
            yield key, value
        else:
            for sub, sub_value in value.items():
                yield f"{key}::{sub}", sub_value


def _item_codes(item: dict, scales: dict[str, Scale]) -> list[str]:
    if item["type"] == "likert":
        return [c.code for c in scales[item["scale"]].choices]
    return [o["code"] for o in item.get("options", ())]


# -- the registry: XLSForm question type → how it becomes one of our items ----------

def _select_one(builder: _Builder, row: _Row, list_name: str | None) -> dict:
    options = builder.options(row, list_name)
    builder.constraint(row, "single")  # nothing to carry over: warns if there is one
    if options is None:
        return {}
    scale = builder.matching_scale(options)
    if scale:
        if [(o["code"], o["label"]) for o in options] != [(c.code, c.label) for c in builder.scales[scale].choices]:
            row.warn(Caution.LIKERT_ORDER, list=list_name, scale=scale)
        return {"type": "likert", "scale": scale}
    return {"type": "single", "options": options}


def _select_multiple(builder: _Builder, row: _Row, list_name: str | None) -> dict:
    options = builder.options(row, list_name)
    n = len(options or ())
    low, high = builder.constraint(row, "multiple", lambda low, high: _whole(low, high) and 0 <= (low or 0)
                                   <= (n if high is None else high) <= n and (high is None or high >= 1))
    if options is None:
        return {}
    return {"type": "multiple", "options": options} | _present(min_choices=low, max_choices=high)


def _number(integer: bool) -> Callable[[_Builder, _Row, str | None], dict]:
    def build(builder: _Builder, row: _Row, list_name: str | None) -> dict:
        low, high = builder.constraint(row, "integer" if integer else "number", lambda low, high: (
            all(x is None or abs(x) <= NUMBER_LIMIT for x in (low, high))
            and (low is None or high is None or low <= high)))
        return {"type": "number"} | ({"integer": True} if integer else {}) | _present(min=low, max=high)
    return build


def _text(builder: _Builder, row: _Row, list_name: str | None) -> dict:
    # string-length(.) >= 1 says nothing more than "answered": only the upper bound is kept.
    low, high = builder.constraint(row, "text", lambda low, high: _whole(low, high) and (low or 0) <= 1
                                   and (high is None or 1 <= high <= TEXT_LIMIT))
    return {"type": "text"} | _present(max_length=high)


def _whole(*values) -> bool:
    return all(v is None or isinstance(v, int) for v in values)


def _present(**values) -> dict:
    return {name: value for name, value in values.items() if value is not None}


#: XLSForm question type (pyxform's canonical name) → the builder of our item.
QUESTION_BUILDERS: dict[str, Callable[[_Builder, _Row, str | None], dict]] = {
    constants.SELECT_ONE: _select_one,
    constants.SELECT_ALL_THAT_APPLY: _select_multiple,
    "integer": _number(integer=True),
    "decimal": _number(integer=False),
    "text": _text,
}
#: Types with no item of ours that are dropped with a warning rather than refused.
DROPPED_TYPES = {"note"}


def _question_kind(type_text: str) -> str | None:
    """pyxform's canonical name for a type we carry over ('int' → 'integer'), or None."""
    spec = QUESTION_TYPE_DICT.get(type_text)
    if spec is None or "select" in type_text:
        return None
    return next((name for name in (*QUESTION_BUILDERS, *DROPPED_TYPES)
                 if name in QUESTION_TYPE_DICT and QUESTION_TYPE_DICT[name] == spec), None)


# -- writing ------------------------------------------------------------------------

class FlowMap(dict):
    """A mapping written on one line: {code: "1", label: 是}."""


class FlowList(list):
    """A list written on one line: [kunming:II-14.4]."""


class _Dumper(yaml.SafeDumper):
    """Our files' layout: lists indented under their key, options and tags on one line."""

    def ignore_aliases(self, data):
        return True  # a choice list shared by two questions is written out twice, never as &id001

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    def choose_scalar_style(self):
        style = super().choose_scalar_style()
        return '"' if style == "'" else style  # "1", as surveys/README.md writes codes


_Dumper.add_representer(FlowMap, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))
_Dumper.add_representer(FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True))

_ITEM_ORDER = ("key", "type", "scale", "show_if", "text", "text_en", "help", "required", "integer", "min", "max",
               "max_length", "min_choices", "max_choices", "options", "tags")


def _ordered(item: dict) -> dict:
    return {name: item[name] for name in _ITEM_ORDER if name in item}


def to_yaml(definition: dict, source_name: str) -> str:
    body = yaml.dump(definition, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096)
    # A blank line before each section, as in the hand-written files.
    body = re.sub(r"(?<!sections:)\n(  - )", r"\n\n\1", body)
    header = (f"# Imported from the XLSForm {source_name} by `flask --app wsgi surveys import-xlsform`.\n"
              "# Check the wording, and replace any xlsform:… tag with the indicators each item feeds.\n\n")
    return header + body


def survey_id_from(value: str) -> str | None:
    """A valid survey id made from a form_id: lowercased, other characters as '-'."""
    text = re.sub(r"[^a-z0-9_-]+", "-", str(value).lower())
    text = re.sub(r"^[^a-z]+", "", text).rstrip("-_")[:64].rstrip("-_")
    return text if ID_RE.fullmatch(text) else None


# -- the whole ----------------------------------------------------------------------

def convert_xlsform(path: str | Path, scales: dict[str, Scale], survey_id: str | None = None,
                    folder: str | Path | None = None) -> Conversion:
    """An XLSForm workbook as our definition, checked by our own loader as if it were
    ``folder/<id>.yaml``; raises XLSFormRefused listing every reason it cannot be converted."""
    path = Path(path)
    findings = _Findings(path.name)
    workbook = _read(path, findings)
    if workbook is None:
        raise XLSFormRefused(findings.refusals)
    if survey_id is not None:
        if not ID_RE.fullmatch(survey_id) or f"{survey_id}.yaml" == SCALES_FILE:
            findings.refuse(Refusal.BAD_ID, value=survey_id)
    else:
        survey_id = survey_id_from(workbook.form_id)
        if survey_id is None or f"{survey_id}.yaml" == SCALES_FILE:
            findings.refuse(Refusal.BAD_ID, "settings", None, "form_id", value=workbook.form_id)
    survey_id = survey_id or "xlsform"  # only to go on collecting refusals

    sections = _Builder(workbook, survey_id, scales, findings).build()
    title = (workbook.title or "").strip()
    if not title:
        title = workbook.form_id
        findings.warn(Caution.NO_TITLE, "settings", title=title)
    if findings.refusals:
        raise XLSFormRefused(findings.refusals, findings.warnings)

    definition = {"id": survey_id, "title": title,
                  "sections": [({"title": s["title"]} if s["title"] else {}) | {"items": s["items"]}
                               for s in sections]}
    text = to_yaml(definition, path.name)
    target = Path(folder or ".") / f"{survey_id}.yaml"
    try:
        parsed = build_survey(yaml.safe_load(text), str(target), scales)
    except DefinitionError as e:
        # Something the build stage let through but our loader refuses: listed, nothing written.
        for problem in e.problems:
            findings.refuse(Refusal.INVALID, detail=f"{problem.where}: {problem.message}" if problem.where
                            else problem.message)
        raise XLSFormRefused(findings.refusals, findings.warnings) from e
    return Conversion(survey_id=survey_id, yaml_text=text, definition=parsed, warnings=findings.warnings,
                      path=target)


def import_xlsform(path: str | Path, surveys_dir: str | Path, survey_id: str | None = None,
                   force: bool = False) -> Conversion:
    """Convert a workbook and write ``surveys_dir/<id>.yaml``.

    Raises XLSFormRefused, writing nothing, if anything cannot be carried over, if the
    file exists (unless ``force``) or if another file in the folder has the same id.
    """
    surveys_dir = Path(surveys_dir)
    conversion = convert_xlsform(path, load_scales(surveys_dir / SCALES_FILE), survey_id, folder=surveys_dir)
    findings = _Findings(Path(path).name)
    if conversion.path.exists() and not force:
        findings.refuse(Refusal.EXISTS, path=conversion.path)
    other = _file_with_id(surveys_dir, conversion.survey_id, conversion.path)
    if other:
        findings.refuse(Refusal.ID_TAKEN, id=conversion.survey_id, other=other)
    if findings.refusals:
        raise XLSFormRefused(findings.refusals, conversion.warnings)
    conversion.path.write_text(conversion.yaml_text, encoding="utf-8")
    return conversion


def _file_with_id(surveys_dir: Path, survey_id: str, target: Path) -> Path | None:
    """Another definition file in the folder that already declares this id."""
    for other in sorted(surveys_dir.glob("*.yaml")):
        if other.name == SCALES_FILE or other == target:
            continue
        try:
            raw = yaml.safe_load(other.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue  # `surveys check` reports that file; it does not block this one
        if isinstance(raw, dict) and raw.get("id") == survey_id:
            return other
    return None
