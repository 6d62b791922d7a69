"""One way to validate input files: pydantic models, and one error formatter.

Region files (:mod:`routing.regions`, :mod:`routing.live_sources`), demand
configs (:mod:`demand.config`), scenario and comparison files
(:mod:`fleet.scenarios.spec`, :mod:`fleet.concepts.settings`) and live
closures (:mod:`routing.live.parsing`) are each described by pydantic models.
:func:`validate` runs a model and turns the first problem of a
:class:`pydantic.ValidationError` into the project's own error
(:class:`routing.errors.DataError` by default) with one message shape::

    FILE: KEY: WHAT IS WRONG AND THE FIX

where KEY is the path in TOML words: ``[fleet] n_vehicles[2]``,
``[live.tu] interval_s``, ``bbox``. Models raise ``ValueError`` in their
validators with the fix in words ("expected an integer >= 1, got 0"); the
built-in checks of pydantic (types, ranges, missing and unknown keys) are
worded here, so every input reads the same.

Routing is the lowest layer, so this module lives here; ``demand`` and
``fleet`` import it.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from routing.errors import DataError

M = TypeVar("M", bound=BaseModel)

__all__ = ["did_you_mean", "format_error", "key_path", "validate"]


def did_you_mean(word: str, options: Sequence[str] | Mapping[str, Any]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest option, or ``""``.

    Parameters
    ----------
    word : str
        The unknown word.
    options : sequence or mapping of str
        The words allowed.
    """
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def key_path(loc: Sequence[int | str], data: Any, model: type[BaseModel] | None = None) -> str:
    """Write a pydantic error location in TOML words.

    Leading parts that name tables of ``data`` become the header
    (``[live.tu]``); the rest is the key, with list positions in brackets
    (``n_vehicles[2]``). A position is only shown where the input has a list
    (a single value given for a list is not one). A location that is itself a
    table of ``model`` is written as a header (``[fleet]``).

    Parameters
    ----------
    loc : sequence of str or int
        The error's location.
    data : object
        The validated input (to tell tables from keys).
    model : type of BaseModel, optional
        The root model (to tell tables from keys where the input has none).

    Returns
    -------
    str
        For example ``[fleet] n_vehicles[2]``, ``[live.tu]`` or ``bbox``.
    """
    tables: list[str] = []
    node: Any = data
    i = 0
    # A part is a table name when it and at least one more part lead into mappings.
    while i < len(loc) - 1 and isinstance(node, Mapping) and isinstance(loc[i], str):
        child = node.get(loc[i])
        if not isinstance(child, Mapping):
            break
        tables.append(str(loc[i]))
        node = child
        i += 1
    if i == len(loc) - 1 and isinstance(loc[i], str) and _model_at(model, loc) is not None:
        return f"[{'.'.join([*tables, str(loc[i])])}]"
    key = ""
    for part in loc[i:]:
        if isinstance(part, int):
            if isinstance(node, list | tuple) and 0 <= part < len(node):
                key += f"[{part}]"
                node = node[part]
            continue
        key += f".{part}" if key else str(part)
        node = node.get(part) if isinstance(node, Mapping) else None
    header = f"[{'.'.join(tables)}]" if tables else ""
    return f"{header} {key}".strip() if key else header


def _model_at(model: type[BaseModel] | None, loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that holds the last key of ``loc`` (for the list of allowed keys)."""
    current: Any = model
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _inner_model(field.annotation)
        # The keys of a dict of tables and the positions of a list of tables name no field.
        while parts and _is_container(field.annotation) and current is not None:
            parts.pop(0)
            break
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _is_container(annotation: Any) -> bool:
    """Whether ``annotation`` is a dict or list (possibly optional) of something."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_container(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_container(a) for a in typing.get_args(annotation))
    return origin in (dict, Mapping, list, tuple)


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None``, ``dict[str, X]``, ``list[X]`` annotations."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _inner_model(typing.get_args(annotation)[0])
    if origin in (dict, Mapping):
        args = typing.get_args(annotation)
        return _inner_model(args[1]) if len(args) == 2 else None
    if origin in (typing.Union, types.UnionType, list, tuple):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


def _allowed(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "date_type": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
}


def _problem(error: ErrorDetails) -> str:
    """The fix in words for one pydantic error (not for missing/unknown keys)."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    got = error.get("input")
    if kind in ("value_error", "assertion_error"):
        reason = ctx.get("error")
        return str(reason) if reason is not None else error["msg"]
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got!r}"
    bounds = {
        "greater_than": ">",
        "greater_than_equal": ">=",
        "less_than": "<",
        "less_than_equal": "<=",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"expected a value {bounds[kind]} {limit}, got {got!r}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {got!r}"
    if kind in ("too_short", "too_long"):
        size = "at least" if kind == "too_short" else "at most"
        limit = ctx.get("min_length" if kind == "too_short" else "max_length")
        return f"expected {size} {limit} item(s), got {ctx.get('actual_length')}"
    return f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {got!r}"


def format_error(
    exc: ValidationError, *, source: str, data: Any, model: type[BaseModel] | None = None
) -> str:
    """Turn the first problem of a validation error into one clear line.

    Parameters
    ----------
    exc : ValidationError
        What pydantic raised.
    source : str
        The file (or other input) named first in the message.
    data : object
        The validated input (for the key path).
    model : type of BaseModel, optional
        The root model (to list the allowed keys of a table with an unknown key).

    Returns
    -------
    str
        ``SOURCE: KEY: PROBLEM AND FIX``.
    """
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    key = key_path(loc, data, model)
    if not key:  # a check across fields (a model validator)
        return f"{source}: {_problem(error)}"
    if error["type"] == "missing" and isinstance(loc[-1], int):  # a list too short
        return f"{source}: {key}: item {loc[-1]} is missing, got {error.get('input')!r}"
    if error["type"] == "missing":
        return f"{source}: {key} is missing; add {loc[-1]} = ..."
    if error["type"] == "extra_forbidden":
        holder = _model_at(model, loc[:-1])
        allowed = _allowed(holder)
        table = key_path(loc[:-1], data, model) if loc[:-1] else ""
        word = "section" if isinstance(error.get("input"), Mapping) and not table else "key"
        if word == "section":
            key = f"[{loc[-1]}]"
        hint = did_you_mean(str(loc[-1]), allowed) if allowed else ""
        where = f"in {table}" if table else "at the top level"
        known = f"; allowed {word}s {where}: {', '.join(allowed)}" if allowed else ""
        return f"{source}: unknown {word} {key}{hint}{known}"
    return f"{source}: {key}: {_problem(error)}"


def validate(
    model: type[M],
    data: Any,
    *,
    source: str,
    error: type[Exception] = DataError,
    context: dict[str, Any] | None = None,
) -> M:
    """Validate ``data`` with ``model``; raise ``error`` with one clear message.

    Parameters
    ----------
    model : type of BaseModel
        The input's model.
    data : object
        Parsed input (TOML/JSON/YAML as dicts and lists).
    source : str
        File name (or "request") named in the message.
    error : type of Exception
        The error raised, :class:`~routing.errors.DataError` by default.
    context : dict, optional
        Passed to the model's validators (e.g. the region file's path).

    Raises
    ------
    DataError (or ``error``)
        The first problem, naming the source, the key and the fix.
    """
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise error(format_error(exc, source=source, data=data, model=model)) from None
