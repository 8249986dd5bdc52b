"""Typer options built from the request models, so a request field is declared once.

:func:`request_command` turns a function ``fn(req, **extra)`` into a Typer command whose options are
the fields of a request model (name, type, default, help from the field's description), plus the
function's own extra parameters. The command parses the options with :func:`walkforward.request.parse`,
so a malformed value gets the same one-line message as over the API.

Written by hand because neither Typer nor pydantic-settings' ``CliApp`` builds options from a model
in a Typer app (CliApp brings its own argparse parser and help, and would split the CLI in two).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, TypeVar, Union

import typer
from pydantic import BaseModel

from walkforward.errors import InvalidInputError
from walkforward.request import DataRequest, parse

M = TypeVar("M", bound=DataRequest)

#: Fields given as a command's positional arguments.
ARGUMENTS: tuple[str, ...] = ("symbol",)
#: Option names that differ from the field's (kept from earlier releases of the CLI).
OPTION_NAMES: Mapping[str, str] = {
    "use_default_grid": "--default-grid/--no-default-grid",
    "cluster_threshold": "--cluster-features",
}
#: Mapping fields and how they are typed on a command line.
KEY_VALUE_FIELDS: Mapping[str, tuple[str, str]] = {
    "hyperparameters": ("--param", "Hyperparameter KEY=VALUE (repeatable; values parsed as JSON when they can be)."),
    "grids": ("--grid", "Grid values NAME=[...] (repeatable), e.g. 'alpha_grid=[0.001,0.01]'."),
}


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``None`` and whether ``None`` was allowed."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    if origin is Annotated:
        return _base_type(typing.get_args(annotation)[0])
    return annotation, False


def _cli_type(annotation: Any) -> tuple[Any, str]:
    """The option's type and a note for its help (enum choices are listed, and checked by the model)."""
    base, _ = _base_type(annotation)
    if isinstance(base, type) and issubclass(base, Enum):
        # Text, not click's Choice: the model's check gives the same message as the API.
        return str, "One of: " + ", ".join(str(m.value) for m in base) + "."
    if isinstance(base, type) and issubclass(base, bool | int | float):
        return base, ""
    return str, ""  # dates, strings and comma-separated lists arrive as text and are parsed by the model


def _parameters(model: type[BaseModel], defaults: Mapping[str, Any], hidden: Sequence[str]) -> list[inspect.Parameter]:
    params = []
    for name, info in model.model_fields.items():
        if name in hidden:
            continue
        help_text = info.description or ""
        if name in KEY_VALUE_FIELDS:
            flag, kv_help = KEY_VALUE_FIELDS[name]
            annotation: Any = Annotated[list[str] | None, typer.Option(flag, help=kv_help)]
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
            continue
        default = defaults.get(name, info.get_default(call_default_factory=True))
        if name in ARGUMENTS:
            annotation = Annotated[str, typer.Argument(help=help_text, show_default=False, metavar=name.upper() + "S")]
            params.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation))
            continue
        kind, note = _cli_type(info.annotation)
        help_text = f"{help_text} {note}".strip()
        optional = default is None or _base_type(info.annotation)[1]
        typ = kind | None if optional and kind is not bool else kind
        decls = (OPTION_NAMES[name],) if name in OPTION_NAMES else ()
        required = default is inspect.Parameter.empty or info.is_required()
        option = typer.Option(*decls, help=help_text, show_default=not required)
        annotation = Annotated[typ, option]
        if isinstance(default, dt.date):
            default = default.isoformat()
        elif isinstance(default, Enum):
            default = default.value
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if required else default,
                annotation=annotation,
            )
        )
    # Required options (no default) first: Python signatures want them before defaulted ones.
    return sorted(params, key=lambda p: (p.kind, p.default is not inspect.Parameter.empty))


def _key_values(flag: str, items: Sequence[str] | None, *, lists: bool) -> dict[str, Any]:
    """``--param alpha=0.01`` / ``--grid 'alpha_grid=[0.1,1]'`` (repeatable) -> a dict."""
    out: dict[str, Any] = {}
    for item in items or ():
        if flag == "--param" and item.strip().startswith("{"):  # a whole JSON object
            try:
                parsed = json.loads(item)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{flag} {item!r} is not valid JSON ({exc.msg})") from None
            out.update(parsed)
            continue
        key, sep, raw = item.partition("=")
        example = "--grid 'alpha_grid=[0.001, 0.01]'" if lists else "--param alpha=0.01"
        if not sep or not key.strip():
            raise InvalidInputError(f"{flag} {item!r} is not NAME=VALUE: use e.g. {example}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            if lists:
                raise InvalidInputError(f"{flag} {item!r} is not NAME=[values]: use e.g. {example}") from None
            value = raw
        if lists and not isinstance(value, list):
            raise InvalidInputError(f"{flag} {item!r} is not NAME=[values]: use e.g. {example}")
        out[key.strip()] = value
    return out


def request_command(
    model: type[M],
    *,
    defaults: Mapping[str, Any] | None = None,
    hidden: Sequence[str] = (),
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate ``fn(req: model, **extra)``: the command's options are ``model``'s fields plus ``extra``.

    ``defaults`` overrides field defaults for this command; ``hidden`` fields keep their default and
    get no option.
    """

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(fn, eval_str=True).parameters.values() if p.name != "req"]
        fields = _parameters(model, defaults or {}, hidden)
        names = {p.name for p in fields}

        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> None:
            values = {k: v for k, v in kwargs.items() if k in names}
            for name, (flag, _) in KEY_VALUE_FIELDS.items():
                if name in values:
                    values[name] = _key_values(flag, values[name], lists=name == "grids")
            values = {**{k: v for k, v in (defaults or {}).items() if k not in names}, **values}
            req = parse(model, values)
            fn(req, **{k: v for k, v in kwargs.items() if k not in names})

        params = fields + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        params = sorted(params, key=lambda p: (p.kind, p.default is not inspect.Parameter.empty))
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate
