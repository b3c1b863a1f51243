"""The one error path: errors a user can fix, and the lines the CLI prints for them.

Every error that bad input, a missing tool or a failed verification can cause derives from
``UserError``; its message names the problem and the fix on one line. The CLI
(``flows.cli.main``) prints each of ``lines()`` as ``error: <line>`` on stderr and exits with
``exit_code`` (1; ``make compare``'s "not comparable" inputs use 2). Anything else that escapes a
command is a bug in exitflow: the CLI says so on one line, keeps the traceback in
``build/exitflow.log`` and exits 3.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

EXIT_USER_ERROR = 1
EXIT_INTERNAL_ERROR = 3


class UserError(ValueError):
    """A problem the user can fix; the message names the problem and the fix."""

    exit_code = EXIT_USER_ERROR

    def lines(self) -> list[str]:
        """One line per problem (one here; ``InvalidFile`` may hold several)."""
        return [one_line(str(self))]


class VerificationFailed(UserError):
    """A generated core or pipeline differs from its reference; the message names the first difference."""


class InvalidFile(UserError):
    """A spec, board or other input file with one or more problems, each ``<file>: <field>: <problem>; <fix>``."""

    def __init__(self, problems: str | Sequence[str]):
        self.problems = [one_line(p) for p in ([problems] if isinstance(problems, str) else problems)]
        more = f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
        super().__init__(self.problems[0] + more)

    def lines(self) -> list[str]:
        return list(self.problems)


def one_line(text: str) -> str:
    """Collapse whitespace (tool messages carry newlines) so a message stays one greppable line."""
    return " ".join(str(text).split())


# ---------------------------------------------------------------- pydantic problems as lines

# Tags of the schemas' own union branches (pydantic puts them into an error's location) start with this.
BRANCH_TAG = "~"


def _is_field(part: Any) -> bool:
    return isinstance(part, str) and not part.startswith(BRANCH_TAG)


def field_path(loc: Iterable[Any]) -> str:
    """``('blocks', 0, 'layers', 2, 'filters')`` -> ``blocks[0].layers[2].filters`` (yq's notation)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _is_field(part):
            continue  # a union branch, not a field of the file
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def problem_lines(error, file: str, fixes: Mapping[str, str] | None = None,
                  example: str = "examples/digits.yaml") -> list[str]:
    """One ``<file>: <field path>: <problem>; <fix>`` line per error of a pydantic ``ValidationError``.

    ``fixes``: field name (last part of the path) -> the fix to name; a generic fix otherwise, pointing
    at ``example`` (a file of the same kind) where it cannot say more."""
    fixes = fixes or {}
    lines = []
    for err in error.errors(include_url=False):
        loc = tuple(err["loc"])
        names = [p for p in loc if _is_field(p)]
        name = names[-1] if names else ""
        problem, generic = _describe(err, example)
        own = err["type"] == "value_error" and "; " in str((err.get("ctx") or {}).get("error", ""))
        fix = generic if own else fixes.get(name, generic)
        lines.append(f"{file}: {field_path(loc)}: {problem}; {fix}")
    return lines


def _describe(err: dict, example: str) -> tuple[str, str]:
    """(what is wrong, a generic fix) for one pydantic error."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    shown = _show(value)
    if kind == "missing":
        return "missing", f"add it (see {example})"
    if kind == "extra_forbidden":
        return "unknown field", f"remove it or fix its spelling (see {example})"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{shown} is not a whole number", "give an integer"
    if kind in ("float_parsing", "float_type"):
        return f"{shown} is not a number", "give a number"
    if kind in ("string_type",):
        return f"{shown} is not text", "give a string"
    if kind in ("bool_type", "bool_parsing"):
        return f"{shown} is not true/false", "give true or false"
    if kind in ("list_type", "tuple_type"):
        return f"{shown} is not a list", "give a list, e.g. [8, 8, 1]"
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return f"{shown} is not a mapping", "give a block of key: value lines"
    if kind == "string_pattern_mismatch":
        return f"{shown} is not allowed here", f"see {example}"
    if kind == "literal_error":
        return f"{shown} is unknown", f"use one of {ctx.get('expected', '')}".replace("'", "")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "")
        return f"{shown} is not {op} {bound}", f"give a value {op} {bound}"
    if kind in ("too_short", "too_long"):
        return f"{shown} has {ctx.get('actual_length')} entries", \
            f"give {'at least' if kind == 'too_short' else 'at most'} " \
            f"{ctx.get('min_length', ctx.get('max_length'))}"
    if kind == "value_error":  # our own validators: "<problem>; <fix>"
        message = str(ctx.get("error", err["msg"]))
        problem, _, fix = message.partition("; ")
        return problem, fix or f"see {example}"
    return f"{shown}: {err['msg']}", f"see {example}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
