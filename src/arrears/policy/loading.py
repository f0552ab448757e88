"""Reading a policy file: YAML -> validated :class:`Policy`, with every problem located.

YAML syntax errors, structural errors (unknown keys with a "did you mean", wrong types, missing
keys) and the semantic checks of :mod:`arrears.policy.check` are all returned together as
:class:`Problem` records printed ``file:line:column: message``. Nothing stops at the first one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from arrears.domain.problems import Problem
from arrears.policy import model
from arrears.policy.check import Templates, check_policy
from arrears.policy.conditions import FeatureType
from arrears.policy.located import Located
from arrears.policy.model import Policy


def _field_names() -> list[str]:
    names: set[str] = set()
    for value in vars(model).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            names.update(value.model_fields)
    return sorted(names)


def _structure_problems(doc: Located, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        if item["type"] == "extra_forbidden":
            key = str(loc[-1])
            close = difflib.get_close_matches(key, _field_names(), n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(doc.problem(doc.key_node(loc), f"unknown key {key!r}{hint}"))
            continue
        where = ".".join(str(p) for p in loc if not _is_tag(p))
        message = item["msg"]
        if item["type"] == "missing":
            message = f"missing required key {str(loc[-1])!r}"
        elif item["type"] == "union_tag_invalid":
            ctx = item["ctx"]
            message = f"unknown action {ctx['tag']!r}; expected one of {ctx['expected_tags']}"
        elif where:
            message = f"{where}: {message}"
        node = doc.find(loc[:-1]) if item["type"] == "missing" else doc.find(loc)
        problems.append(doc.problem(node, message))
    return problems


def _is_tag(part: int | str) -> bool:
    return isinstance(part, str) and part.replace("_", "").isalpha() and part in _ACTION_TAGS


_ACTION_TAGS = {
    "send",
    "call_task",
    "credit_hold",
    "credit_release",
    "move_stage",
    "payment_plan_offer",
    "settlement_offer",
    "late_fee",
    "place_with_agency",
    "recall_from_agency",
    "propose_write_off",
    "notify_owner",
}


def parse_policy(text: str, source: str) -> tuple[Policy | None, Located | None, list[Problem]]:
    """Parse and validate the structure of a policy (no semantic checks)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        return (
            None,
            None,
            [Problem(source, line, str(col) if col else None, f"not valid YAML: {exc.problem}")],
        )
    if root is None or not isinstance(data, dict):
        return (
            None,
            None,
            [Problem(source, 1, "1", "a policy is a YAML mapping (policy:, stages:, ...)")],
        )
    doc = Located(source, root)
    try:
        return Policy.model_validate(data), doc, []
    except ValidationError as exc:
        return None, doc, _structure_problems(doc, exc)


def load_policy(
    path: Path,
    templates: Templates | None = None,
    attributes: Mapping[str, FeatureType] | None = None,
) -> tuple[Policy | None, list[Problem]]:
    """Read, validate and check a policy file; the policy comes back only without problems.
    The templates its steps name are checked when ``templates`` says how (the command line and
    the cycle pass ``Templates(check_template, shipped_root())`` of ``arrears.channels``)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(source, None, None, f"cannot read the policy: {exc}")]
    policy, doc, problems = parse_policy(text, source)
    if policy is None or doc is None:
        return None, problems
    problems = check_policy(policy, doc, templates, attributes)
    return (policy if not problems else None), problems
