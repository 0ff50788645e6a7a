"""The bundle file: which notebooks the monthly run executes, each with its parameter file.

```yaml
title: Product Ops monthly report
default_period: 2026-10          # used when --period is not given
reports:
  - name: ab_checkout            # output name: ab_checkout.html, results/ab_checkout/
    notebook: notebooks/ab_test.ipynb
    parameters: parameters/ab_checkout.yaml
    title: "Experiment: checkout redesign"
  - name: monthly_review
    notebook: notebooks/monthly_review.ipynb
    parameters: parameters/monthly_review.yaml
    headline: true               # this report's headline is the period's headline
    timeout: 1800                # seconds; the smaller of this and --timeout applies
```
The same notebook may appear several times with different parameters and names.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodops_lib.labels import readable_name
from prodops_lib.params import (
    ParameterError,
    build,
    load_yaml,
    parse_period,
    project_root,
    resolve_path,
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
RESERVED_PARAMETERS = frozenset({"period", "report_name", "results_dir", "parameters_file"})


@dataclass(frozen=True)
class ReportEntry:
    """One notebook run: its output name, notebook, parameter file and extra injected values."""

    name: str
    notebook: str
    parameters: str | None = None
    title: str | None = None
    headline: bool = False
    timeout: float | None = None
    inject: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ValueError(f"timeout {self.timeout:g}: must be a positive number of seconds")
        reserved = sorted(set(self.inject) & RESERVED_PARAMETERS)
        if reserved:
            raise ValueError(f"inject: {reserved[0]!r} is set by the runner for every report; remove it from inject")
        if not _NAME.match(self.name):
            raise ValueError(
                f"name {self.name!r} must be lower-case letters, digits, '_' or '-' (it names files)"
            )

    @property
    def display_title(self) -> str:
        return self.title or readable_name(self.name)


@dataclass(frozen=True)
class Bundle:
    """A monthly run: a title, the period used by default and the reports in run order."""

    reports: list[ReportEntry]
    title: str = "Product Ops monthly report"
    default_period: str | None = None

    def __post_init__(self) -> None:
        if not self.reports:
            raise ValueError("reports: the bundle lists no reports; add at least one")
        seen: set[str] = set()
        for index, entry in enumerate(self.reports):
            if entry.name in seen:
                raise ValueError(f"reports[{index}]: name {entry.name!r} is used twice; give each run its own name")
            seen.add(entry.name)
        if sum(entry.headline for entry in self.reports) > 1:
            raise ValueError("reports: more than one entry has headline: true; choose one")
        if self.default_period is not None:
            try:
                parse_period(self.default_period, "default_period")
            except ParameterError as error:  # re-raised as a plain rule, so the file is named
                raise ValueError(str(error)) from None

    def select(self, names: list[str] | None) -> list[ReportEntry]:
        """The entries named by ``--only`` (all when ``names`` is empty), in bundle order."""
        if not names:
            return list(self.reports)
        known = [entry.name for entry in self.reports]
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(known)
                raise ParameterError(f"--only {name}: no report of that name in the bundle; {hint}")
        return [entry for entry in self.reports if entry.name in names]


def load_bundle(path: str | Path) -> Bundle:
    """Load and check a bundle file: names, and that every notebook and parameter file exists."""
    bundle = build(Bundle, load_yaml(path), source=str(path))
    root = bundle_root(path)
    for index, entry in enumerate(bundle.reports):
        where = f"{path}: reports[{index}] {entry.name!r}"
        if not resolve_path(entry.notebook, root).is_file():
            kits = project_root() / "notebooks" / Path(entry.notebook).name
            hint = f"; the kit's own is {kits}: give that full path" if kits.is_file() else ""
            raise ParameterError(f"{where}: notebook {entry.notebook!r} not found relative to {root}{hint}")
        if entry.parameters and not resolve_path(entry.parameters, root).is_file():
            raise ParameterError(f"{where}: parameter file {entry.parameters!r} not found; check the path (relative to {root})")
    return bundle


def bundle_root(path: str | Path) -> Path:
    """The project root of a bundle: the folder holding the ``parameters/`` folder it lives in."""
    file = resolve_path(path).resolve()
    return file.parent.parent if file.parent.name == "parameters" else file.parent
