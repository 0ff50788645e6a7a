"""The prior of each metric's Bayesian view when an experiment asks for ``prior: learned``.

The past experiments a report learns from (:func:`past_results`) are the results known at its
period (:func:`.ledger.program_history`: the output folder's ledger and the ``history`` CSV),
restricted to

* months strictly before the report's period, so a rerun of a month never changes its own prior
  and the report does not learn from itself;
* relative lifts (``scale == "relative"``), the scale of the Bayesian view;
* finished results: not an experiment still running (an interim read) nor one to investigate
  (its split is broken, so its lift is not to be trusted);
* other experiments: the report's own (by its report name, the ledger's key, or its
  experiment name) never enters, in any month;
* one row per experiment and metric: its latest month (an experiment reported in two months is
  one experiment), and of an A/B/n test's variants the one with the smallest standard error
  (variants share a control, so they are not independent draws; the most precise one carries
  the most information and is not picked for its effect).

Each metric's prior is :func:`.program.fit_prior` (Paule–Mandel) on its rows, by metric name.
A metric measured by fewer than ``prior_min_experiments`` of them keeps the flat default, and so
does one whose past lifts vary no more than their noise explains (``fit_prior``: a fitted spread
of 0 would make the prior overrule any data). Quantile metrics have no normal posterior (bootstrap) and no
prior.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pandas as pd

from ..io import DropLog, existing_file
from ..params import ParameterError, parse_period, previous_period
from .ledger import ledger_files, ledger_root_for, program_history
from .program import LearnedPrior, fit_prior
from .spec import ExperimentSpec

__all__ = ["past_results", "report_priors"]

# results that are not an experiment's final word: an interim read, or one whose split is broken
UNFINISHED = ("keep running", "investigate")


def past_results(known: pd.DataFrame, period: str, exclude: Collection[str]) -> pd.DataFrame:
    """The rows of ``known`` (ledger rows) a prior for ``period`` learns from: see the module
    docstring. One row per experiment and metric."""
    rows = known[(known["scale"] == "relative") & (known["period"] < period) & ~known["experiment"].isin(list(exclude))
                 & (known["standard_error"] > 0) & known["effect"].notna() & ~known["decision"].isin(UNFINISHED)]
    rows = rows.sort_values(["experiment", "metric", "period", "standard_error", "variant"],
                            ascending=[True, True, False, True, True], kind="stable")
    return rows.drop_duplicates(["experiment", "metric"]).reset_index(drop=True)


def report_priors(spec: ExperimentSpec, log: DropLog, *, period: str | None, results_dir: str | Path | None,
                  report_name: str | None = None) -> dict[str, LearnedPrior]:
    """The prior of each mean, proportion and ratio metric of ``spec`` (``prior: learned``), by
    metric name, learned from the past experiments known before ``period``: the ledger of the
    output folder ``results_dir`` belongs to (none for a notebook run by hand) and
    ``spec.history``. The files read are recorded in ``log``, for the appendix and the manifest."""
    if period is None:
        raise ParameterError(f"experiment {spec.name!r}: prior: learned needs the month reported (period, YYYY-MM) "
                             "to know which experiments came before it")
    period = parse_period(period)
    root = ledger_root_for(results_dir) if results_dir else None
    history = existing_file(spec.history, f"experiment.history ({spec.history})") if spec.history else None
    known = program_history(root, period, history=history)
    for label, file, rows in ledger_files(root, through=previous_period(period)) if root is not None else []:
        log.record_input(label, file, rows)
    if history is not None:
        log.record_input(spec.history, history, len(pd.read_csv(history, dtype=str, keep_default_na=False)))
    past = past_results(known, period, exclude={name for name in (report_name, spec.name) if name})
    priors = {}
    for metric in spec.metrics:
        if metric.kind == "quantile":
            continue
        rows = past[past["metric"] == metric.name]
        priors[metric.name] = fit_prior(rows["effect"], rows["standard_error"], metric=metric.name,
                                        min_experiments=spec.prior_min_experiments)
    return priors
