"""Parameter files: load YAML, validate it against a typed dataclass, and hand values to papermill.

Every analysis declares its parameters as frozen dataclasses; :func:`load` builds them from a
YAML file by reading the type hints, so a typo, a wrong type or a missing key is reported in
one line that names the file, the key and what is expected. Supported field types: ``str``,
``int``, ``float``, ``bool``, ``datetime.date``, ``pathlib.Path``, ``Literal[...]``,
``X | None``, ``list[T]``, ``dict[str, T]``, nested dataclasses and ``Any``.

Paths in parameter files are relative to the project root (the folder holding ``parameters/``),
never to the current directory: papermill runs kernels in the caller's directory and nbval in
the notebook's, so the working directory cannot be trusted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

__all__ = [
    "ParameterError",
    "Taxonomy",
    "ThemeSpec",
    "build",
    "files_read",
    "load",
    "load_taxonomy",
    "load_yaml",
    "month_bounds",
    "parse_currency",
    "parse_period",
    "project_root",
    "recent_months",
    "report_paths",
    "resolve_path",
    "to_papermill",
]

T = TypeVar("T")

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ParameterError(ValueError):
    """A parameter file or value is wrong; the message is one line that says how to fix it."""


# --------------------------------------------------------------------------- project root


def project_root() -> Path:
    """The folder that holds ``parameters/``: ``$PRODOPS_ROOT``, else the nearest ancestor of
    the working directory with a ``parameters`` folder, else the checkout this package lives in."""
    env = os.environ.get("PRODOPS_ROOT")
    if env:
        return Path(env).resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "parameters").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    package_checkout = Path(__file__).resolve().parents[1]
    if (package_checkout / "parameters").is_dir():
        return package_checkout
    return cwd


def resolve_path(path: str | Path, root: Path | None = None) -> Path:
    """An absolute path: relative paths are taken from the project root."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    return (root or project_root()) / candidate


def parse_period(period: object, source: str = "period") -> str:
    """Check a reporting period written ``YYYY-MM`` and return it normalised."""
    if isinstance(period, dt.date):
        return f"{period.year:04d}-{period.month:02d}"
    text = str(period).strip()
    if not _PERIOD.match(text):
        raise ParameterError(
            f"{source}: {period!r} is not a month; write it as YYYY-MM, e.g. 2026-10"
        )
    return text


def parse_currency(code: object, source: str = "currency") -> str:
    """Check an ISO 4217 currency code (``EUR``, ``usd``) against CLDR's list and return it
    upper-case. A ValueError, not a ParameterError, so that a parameter file's loader adds the
    file and key it comes from."""
    from babel.numbers import is_currency

    text = str(code).strip().upper()
    if not is_currency(text) or text in ("XXX", "XTS"):  # ISO's "no currency" and its testing code
        raise ValueError(f"{source}: {code!r} is not an ISO 4217 currency code; write it as e.g. USD, EUR or GBP")
    return text


def previous_period(period: str) -> str:
    """The month before ``period`` (``YYYY-MM``)."""
    year, month = (int(p) for p in parse_period(period).split("-"))
    return f"{year - (month == 1):04d}-{(month - 2) % 12 + 1:02d}"


def previous_results_folder(results_dir: str | Path, period: str, report_name: str,
                            reports_root: str | Path | None = None) -> Path:
    """Where a report's results of the month before ``period`` are:
    ``<reports_root>/<previous period>/results/<report_name>``, with ``reports_root`` by default
    three levels above ``results_dir`` (a run writes ``<reports_root>/<period>/results/<name>``)."""
    root = resolve_path(reports_root) if reports_root else resolve_path(results_dir).parent.parent.parent
    return root / previous_period(period) / "results" / report_name


def recent_months(period: str, count: int) -> list[str]:
    """``count`` months ending with ``period``, oldest first."""
    months = [parse_period(period)]
    while len(months) < count:
        months.insert(0, previous_period(months[0]))
    return months


def month_bounds(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of a ``YYYY-MM`` period."""
    year, month = (int(part) for part in parse_period(period).split("-"))
    first = dt.date(year, month, 1)
    next_first = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first, next_first - dt.timedelta(days=1)


# --------------------------------------------------------------------------- loading


_FILES_READ: list[Path] = []


def files_read() -> list[Path]:
    """Every parameter file this process has loaded, in order (for the report manifest)."""
    return list(_FILES_READ)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (YAML would silently
    keep the last value)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise ParameterError(f"key {key!r} is written twice (line {mark.line + 1}); keep one")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def report_paths(parameters_file: str | Path, report_name: str | None, results_dir: str | None,
                 prefix: str = "") -> tuple[str, str]:
    """A notebook's report name and results folder: as given (``prodops report`` gives both),
    else named after the parameter file, so ``-p parameters_file`` alone never writes into
    another report's folder, in ``reports/interactive`` or ``$PRODOPS_INTERACTIVE_DIR`` (where
    the notebook tests send it, outside the checkout). ``prefix`` tells apart two notebooks that
    read the same file (the design of an A/B test and its analysis)."""
    name = report_name or prefix + Path(parameters_file).stem
    interactive = os.environ.get("PRODOPS_INTERACTIVE_DIR") or Path("reports") / "interactive"
    return name, str(results_dir or Path(interactive) / name)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with one-line errors for a missing file, a syntax error or a key
    written twice."""
    file = resolve_path(path)
    if not file.is_file():
        raise ParameterError(f"{path}: parameter file not found (looked at {file})")
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except ParameterError as error:
        raise ParameterError(f"{path}: {error}") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        raise ParameterError(f"{path}: invalid YAML at {where}: {error.problem}") from None
    except yaml.YAMLError as error:  # e.g. a control character: not a MarkedYAMLError
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ParameterError(f"{path}: invalid YAML: {first_line}") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{path}: not UTF-8 text; save the file as UTF-8") from None
    if file not in _FILES_READ:
        _FILES_READ.append(file)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(
            f"{path}: expected a mapping of key: value at the top level, got {type(data).__name__}"
        )
    return data


def load(path: str | Path, schema: type[T], overrides: Mapping[str, Any] | None = None, *,
         notebook: Mapping[str, Any] | None = None) -> T:
    """Load a parameter file into the dataclass ``schema``; ``overrides`` replace top-level keys.
    ``notebook`` (a notebook's ``globals()``) refuses the file's keys given one by one, as
    ``papermill -f`` does with a kit parameter file: the notebook would ignore them and report
    on its default file instead."""
    if notebook is not None:
        own = {"period", "report_name", "results_dir", "parameters_file"}  # the notebook's own parameters
        given = [f.name for f in dataclasses.fields(schema) if f.name in notebook and f.name not in own
                 and not isinstance(notebook[f.name], types.ModuleType)]
        if given:
            raise ParameterError(
                f"parameters {', '.join(given)} were given one by one (papermill -f with a kit parameter file?), "
                "but this notebook reads them from its parameter file: run papermill NOTEBOOK OUTPUT "
                "-p parameters_file YOUR_FILE.yaml -p period YYYY-MM, or prodops report")
    data = load_yaml(path)
    data.update(overrides or {})
    return build(schema, data, source=str(path))


def build(schema: type[T], data: Any, source: str = "parameters") -> T:
    """Build dataclass ``schema`` from plain data, checking every key against the type hints."""
    return _convert(data, schema, source, "")


def _where(source: str, key: str) -> str:
    return f"{source}: {key}" if key else source


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is type(None):
        return "nothing (null)"
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of names to {_describe(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    names = {str: "text", int: "a whole number", float: "a number", bool: "true or false",
             dt.date: "a date (YYYY-MM-DD)", Path: "a file path"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(value, tp, source, key)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, source, key)
            except ParameterError as error:
                errors.append(error)
        if len(errors) == 1:
            raise errors[0]
        raise _type_error(value, tp, source, key)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value in allowed:
            return value
        close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParameterError(
            f"{_where(source, key)}: {value!r} is not allowed; expected {_describe(tp)}{hint}"
        )
    if origin is list:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise _type_error(value, tp, source, key)
        (item_type,) = typing.get_args(tp)
        return [_convert(v, item_type, source, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _type_error(value, tp, source, key)
        key_type, value_type = typing.get_args(tp)
        return {
            _convert(k, key_type, source, f"{key}"): _convert(v, value_type, source, f"{key}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(value, tp, source, key)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _type_error(value, tp, source, key)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _type_error(value, tp, source, key)
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, dt.date):
            # YAML reads an unquoted 2026-10-01 as a date; a text field wants its ISO form.
            return value.isoformat()
        raise _type_error(value, tp, source, key)
    if tp is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise _type_error(value, tp, source, key)
    if tp is Path:
        if isinstance(value, (str, Path)) and str(value).strip():
            return Path(value)
        raise _type_error(value, tp, source, key)
    raise TypeError(f"prodops_lib.params cannot build fields of type {tp!r} ({source}: {key})")


def _type_error(value: Any, tp: Any, source: str, key: str) -> ParameterError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return ParameterError(
        f"{_where(source, key)}: expected {_describe(tp)}, got {shown} ({type(value).__name__})"
    )


def _build_dataclass(value: Any, schema: type, source: str, key: str) -> Any:
    if isinstance(value, schema):
        return value
    if not isinstance(value, Mapping):
        raise _type_error(value, schema, source, key)
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
    hints = typing.get_type_hints(schema)
    prefix = f"{key}." if key else ""
    for name in value:
        if name not in fields:
            close = difflib.get_close_matches(str(name), list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(fields)}"
            raise ParameterError(f"{_where(source, prefix + str(name))}: unknown key{hint}")
    arguments = {}
    for name, field in fields.items():
        if name in value:
            arguments[name] = _convert(value[name], hints[name], source, prefix + name)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ParameterError(
                f"{_where(source, prefix + name)}: required key is missing; "
                f"expected {_describe(hints[name])}"
            )
    try:
        return schema(**arguments)
    except ParameterError:  # already says where it comes from
        raise
    except ValueError as error:  # a cross-field rule: name the file and the key
        raise ParameterError(f"{_where(source, key.rstrip('.'))}: {error}") from None


# --------------------------------------------------------------------------- papermill


def to_papermill(parameters: Mapping[str, Any], source: str = "parameters") -> dict[str, Any]:
    """Values papermill can inject (it writes them as JSON into the notebook).

    Conversions are explicit and lossless for the loaders above: dates and datetimes become ISO
    text (``build`` parses them back for date fields), paths become POSIX text, tuples become
    lists and numpy scalars or arrays become Python numbers or lists. Anything else (sets,
    objects, NaN) is refused, because papermill would otherwise turn it into its ``repr``.
    """
    return {str(k): _to_json_value(v, f"{source}: {k}") for k, v in parameters.items()}


def _to_json_value(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ParameterError(f"{where}: {value} cannot be passed to a notebook; use a finite number or null")
        return value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, (list, tuple)):
        return [_to_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _to_json_value(v, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _to_json_value(dataclasses.asdict(value), where)
    item = getattr(value, "item", None)
    tolist = getattr(value, "tolist", None)
    if type(value).__module__ == "numpy":
        if getattr(value, "ndim", 0) == 0 and callable(item):
            return _to_json_value(item(), where)
        if callable(tolist):
            return _to_json_value(tolist(), where)
    raise ParameterError(
        f"{where}: a {type(value).__name__} cannot be passed to a notebook; "
        "use text, a number, true/false, a list or a mapping"
    )


# --------------------------------------------------------------------------- shared taxonomy


@dataclass(frozen=True)
class ThemeSpec:
    """A product theme: its name, its investment category and the keywords that seed it."""

    name: str
    category: Literal["roadmap", "ktlo", "tech_debt"] = "roadmap"
    keywords: list[str] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class Taxonomy:
    """The theme taxonomy shared by allocation rules, feedback mapping and the review.

    ``themes`` are product themes (customer demand can land on them); ``allocation_only_themes``
    are engineering themes that are not customer demand (maintenance, tech debt).
    """

    themes: list[ThemeSpec]
    allocation_only_themes: list[ThemeSpec] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        names = [t.name for t in self.themes + self.allocation_only_themes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"theme {repeated[0]!r} is listed twice; theme names must be unique")
        if not self.themes:
            raise ValueError("themes: the taxonomy lists no product theme")

    @property
    def product_themes(self) -> list[str]:
        return [t.name for t in self.themes]

    @property
    def all_themes(self) -> list[str]:
        return [t.name for t in self.themes + self.allocation_only_themes]


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Load the shared theme taxonomy file (see :class:`Taxonomy`)."""
    return load(path, Taxonomy)
