"""Sufficient statistics from a pandas frame, with numpy (``bincount`` over group codes).

Follows the rules in :mod:`.aggregate`; :mod:`.aggregate_sql` computes the same numbers in
DuckDB and the tests hold the two to 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..io import InputError
from ..labels import count_of
from .aggregate import (
    CollectedData,
    DropCounter,
    check_columns,
    check_metric_units,
    check_variants,
    crossover_alarm,
    metric_moments,
    missing_value_error,
    not_binary_error,
    order_variants,
    wide_to_moments,
)
from .extremes import ExtremeUnit, checks_extremes, extreme_unit, may_be_extreme
from .maturity import analysis_end_day, immature_reason, mature_units, maturity_cutoff
from .quantiles import bootstrap_ranks, quantile_rng
from .regression import MISSING_LEVEL, category_levels, design_terms, term_products
from .spec import ExperimentSpec, MetricSpec

__all__ = ["collect_frame"]

MISSING_SEGMENT = "(missing)"


def collect_frame(
    frame: pd.DataFrame,
    spec: ExperimentSpec,
    *,
    source: str = "data frame",
    bootstrap_samples: int = 2000,
    random_state: int = 0,
) -> CollectedData:
    """Sums per metric x variant (and day, segment) from unit-level rows in ``frame``."""
    check_columns(list(frame.columns), spec, source)
    _check_categories(frame[spec.variant_column], spec, source)
    drops = DropCounter(source)
    notes: dict = {"filled_with_zero": {}, "winsorized": {}}
    raw_codes, labels = pd.factorize(frame[spec.variant_column])
    keep = raw_codes >= 0
    drops.add("missing variant", int((~keep).sum()))
    if spec.unit:
        keep = _drop_crossover(frame, spec, keep, raw_codes, drops, notes, source)
    rows = None if keep.all() else np.flatnonzero(keep)

    def column(name: str) -> pd.Series:
        return frame[name] if rows is None else frame[name].iloc[rows]

    codes, variants = _variant_codes(raw_codes if rows is None else raw_codes[rows], labels, spec, source)
    units = dict(zip(variants, np.bincount(codes, minlength=len(variants)).tolist(), strict=True))
    check_variants(units, spec, source)
    groupings = {"": (codes, len(variants), pd.DataFrame({"variant": variants}))}
    exposure_days = _exposure_days(column(spec.timestamp_column)) if spec.timestamp_column else None
    if exposure_days is not None:
        groupings["day"] = _day_grouping(exposure_days, codes, variants, notes)
    end_day = _end_day(spec, exposure_days)
    for segment_column in spec.segments:
        groupings[segment_column] = _segment_grouping(column(segment_column), codes, variants)
    wide = {name: keys.copy() for name, (_, _, keys) in groupings.items()}
    counts = {name: np.bincount(group_codes, minlength=size) for name, (group_codes, size, _) in groupings.items()}
    quantile_draws = {}
    extreme_units = []
    categories = _category_columns(spec, column, notes)
    for index, metric in enumerate(spec.metrics):
        mature = None
        if metric.maturity_days:
            mature = mature_units(metric, exposure_days, end_day)
            drops.add(immature_reason(metric, maturity_cutoff(metric, end_day)), int((~mature).sum()))
        y, d, x, covariates, valid = _metric_arrays(
            metric, lambda name, metric=metric: _numeric(frame, name, rows, metric, source), drops, notes, source, mature)
        if metric.kind == "quantile":
            quantile_draws.update(_quantile_draws(index, metric, y, valid, codes, variants, bootstrap_samples, random_state))
            continue
        terms = _term_arrays(metric, covariates, categories)
        for name, (group_codes, size, _) in groupings.items():
            sums = _moment_sums(metric, group_codes, size, y, d, x, valid, counts[name], terms)
            if not all(np.isfinite(values).all() for values in sums.values()):
                _raise_infinite(metric, (y, d, x, *covariates), source)
            for moment, values in sums.items():
                wide[name][f"{index}:{moment}"] = values
        if checks_extremes(metric):
            labels = frame[spec.unit] if spec.unit else None
            extreme_units += _extreme_units(metric, y, valid, codes, variants, wide[""], index, rows, labels)
    metrics = spec.metrics
    main = "day" if spec.timestamp_column else ""
    overall_wide = wide[main].drop(columns=["day"], errors="ignore").groupby("variant", sort=False).sum().reset_index()
    overall = wide_to_moments(overall_wide, metrics, ["variant"])
    check_metric_units(overall, spec, source, drops)
    daily = None
    if spec.timestamp_column:
        daily = wide_to_moments(wide["day"].dropna(subset=["day"]), metrics, ["variant", "day"])
    segments = None
    if spec.segments:
        segments = pd.concat(
            [wide_to_moments(wide[name], metrics, ["variant", "segment"]).assign(segment_column=name) for name in spec.segments],
            ignore_index=True,
        )
    return CollectedData(
        source=source, overall=overall, units=units, drops=drops.to_frame(), daily=daily,
        segments=segments, quantile_draws=quantile_draws, notes=notes, extreme_units=extreme_units,
    )


def _extreme_units(metric: MetricSpec, y: np.ndarray, valid: np.ndarray | None, codes: np.ndarray, variants: list[str],
                   sums: pd.DataFrame, index: int, rows: np.ndarray | None, units: pd.Series | None) -> list[ExtremeUnit]:
    """The units that dominate ``metric`` (:mod:`.extremes`), as the SQL path finds them: the
    largest and smallest non-zero ``|y|`` per variant and the sums rule out most variants, and
    only the rest are looked at closely. ``rows`` maps ``y`` to the frame's rows (None: the
    same); ``units`` is the frame's unit column (None: a unit is a row, ``row 1`` first)."""
    # in place and with ufunc.at: one array of |y| and no other copy of the units
    size = y.copy() if valid is None else np.where(valid, y, 0.0)  # units that do not count: 0, which no rule reads
    np.abs(size, out=size)
    largest, smallest = np.zeros(len(variants)), np.full(len(variants), np.inf)
    np.maximum.at(largest, codes, size)
    size[size == 0] = np.inf
    np.minimum.at(smallest, codes, size)
    maybe = may_be_extreme(sums[f"{index}:n"], sums[f"{index}:sum_y"], sums[f"{index}:sum_y2"], largest, smallest)
    flagged = []
    for position in np.flatnonzero(maybe):
        members = np.flatnonzero((codes == position) if valid is None else (codes == position) & valid)
        values = y[members]
        absolute = np.abs(values)
        top = int(np.argmax(absolute))  # the first of equal values, as the SQL path's row order
        row = int(members[top] if rows is None else rows[members[top]])
        found = extreme_unit(metric.name, variants[position], f"row {row + 1}" if units is None else str(units.iloc[row]),
                             float(values[top]), len(values), float(absolute.sum()),
                             float(np.median(absolute[absolute > 0])) if absolute.any() else None,
                             float(np.var(values)), float(values.mean()))
        if found:
            flagged.append(found)
    return flagged


def _raise_infinite(metric: MetricSpec, arrays: tuple, source: str) -> None:
    for column, values in zip(metric.columns, [a for a in arrays if a is not None], strict=True):
        if np.isinf(values).any():
            raise InputError(f"{source}: metric {metric.name!r}: column {column!r} has infinite values; remove or cap them")


def _category_columns(spec: ExperimentSpec, column: Callable[[str], pd.Series], notes: dict) -> dict:
    """Each categorical covariate's values as text (missing as its own level) and its levels."""
    found = {}
    for name in dict.fromkeys(c for metric in spec.metrics for c in metric.categorical_covariates):
        values = column(name).astype("string").fillna(MISSING_LEVEL).to_numpy(dtype=object)
        levels = category_levels(name, pd.Series(values).value_counts(sort=False), spec.max_covariate_levels)
        notes.setdefault("covariate_levels", {})[name] = levels.to_dict()
        found[name] = (values, levels)
    return found


def _term_arrays(metric: MetricSpec, covariates: list[np.ndarray], categories: dict) -> dict[str, np.ndarray]:
    """The regression adjustment's design columns (see .regression), by term id."""
    arrays = {}
    for term in design_terms(metric, {name: levels for name, (_, levels) in categories.items()}):
        if term.level is None:
            arrays[term.id] = covariates[int(term.id[1:])]
        else:
            values = categories[term.column][0]
            hit = ~pd.Series(values).isin(term.other_than).to_numpy() if term.other_than else values == term.level
            arrays[term.id] = hit.astype(float)
    return arrays


def _drop_crossover(frame: pd.DataFrame, spec: ExperimentSpec, keep: np.ndarray, variant_codes: np.ndarray,
                    drops: DropCounter, notes: dict, source: str) -> np.ndarray:
    """Drop rows without a unit id and every row of a unit seen in two variants."""
    unit = frame[spec.unit]
    no_unit = keep & unit.isna().to_numpy()
    drops.add("missing unit id", int(no_unit.sum()))
    keep = keep & ~no_unit
    ids = unit.to_numpy()
    ids = ids if keep.all() else ids[keep]
    notes["crossover_units"] = 0
    if _all_distinct(ids):
        return keep
    kept = pd.DataFrame({"unit": ids, "variant": variant_codes[keep]})
    repeated = kept[kept["unit"].duplicated(keep=False)]
    per_unit = repeated.groupby("unit", sort=False)["variant"].nunique()
    same_variant = per_unit[per_unit == 1]
    if not same_variant.empty:
        raise InputError(
            f"{source}: unit column {spec.unit!r} has {count_of(len(same_variant), 'unit')} with several rows in one variant "
            f"(e.g. {same_variant.index[0]}); the data must have one row per unit"
        )
    crossover = unit.isin(per_unit.index).to_numpy() & keep
    drops.add("unit in more than one variant", int(crossover.sum()))
    notes["crossover_units"] = len(per_unit)
    notes["crossover_alarm"] = crossover_alarm(len(per_unit), int(keep.sum()) - int(crossover.sum()) + len(per_unit), spec)
    return keep & ~crossover


def _all_distinct(ids: np.ndarray) -> bool:
    """No id repeats: a bitmap for compact integer ids, else a hash check."""
    if ids.dtype.kind in "iu" and len(ids):
        low, high = int(ids.min()), int(ids.max())
        if high - low < max(8 * len(ids), 1 << 20):
            seen = np.zeros(high - low + 1, dtype=np.bool_)
            seen[ids - low if low else ids] = True
            return int(np.count_nonzero(seen)) == len(ids)
    return bool(pd.Index(ids).is_unique)


def _check_categories(variant: pd.Series, spec: ExperimentSpec, source: str) -> None:
    """A categorical variant column declares its variants: one without rows is a variant with
    no units, an error as it is for a variant in ``expected_split``."""
    if isinstance(variant.dtype, pd.CategoricalDtype):
        # a planned variant without units gets check_variants' error instead
        unused = variant.cat.categories.difference(variant.dropna().unique()).difference(list(spec.expected_split or {}))
        if len(unused):
            raise InputError(
                f"{source}: variant {str(unused[0])!r} (a category of column {spec.variant_column!r}) has no units; "
                "if it is not part of this experiment, drop it with .cat.remove_unused_categories()"
            )


def _variant_codes(codes: np.ndarray, uniques: object, spec: ExperimentSpec, source: str) -> tuple[np.ndarray, list[str]]:
    labels = [str(value) for value in uniques]
    if len(set(labels)) != len(labels):
        raise InputError(f"{source}: variant column {spec.variant_column!r} has values that print the same; make them distinct")
    labels_present = [labels[code] for code in np.flatnonzero(np.bincount(codes, minlength=len(labels)))]
    ordered = order_variants(labels_present, spec)
    ordered = [variant for variant in ordered if variant in labels_present] + [v for v in ordered if v not in labels_present]
    position = {variant: i for i, variant in enumerate(ordered)}
    remap = np.array([position.get(label, -1) for label in labels], dtype=np.int64)
    return remap[codes], ordered


def _end_day(spec: ExperimentSpec, exposure_days: np.ndarray | None):
    """The day maturity is measured to (:mod:`.maturity`), when a metric needs it."""
    if exposure_days is None or not any(metric.maturity_days for metric in spec.metrics):
        return None
    readable = exposure_days[~np.isnat(exposure_days)]
    return analysis_end_day(spec, readable.max().astype(object) if readable.size else None)


def _day_grouping(days: np.ndarray, codes: np.ndarray, variants: list[str], notes: dict):
    missing = np.isnat(days)
    labels, day_codes = np.unique(days[~missing], return_inverse=True)
    slot = np.zeros(len(days), dtype=np.int64)
    slot[~missing] = day_codes + 1
    notes["units_without_timestamp"] = int(missing.sum())
    size = len(labels) + 1
    keys = pd.DataFrame({
        "variant": np.repeat(variants, size),
        "day": np.tile(np.concatenate([[np.datetime64("NaT", "D")], labels]), len(variants)).astype("datetime64[ns]"),
    })
    return codes * size + slot, len(variants) * size, keys


def _exposure_days(values: pd.Series) -> np.ndarray:
    """Each unit's exposure day, as the SQL path reads it: the wall-clock date written in the
    value (an offset does not move the day), so a frame and a file give the same days; a
    value that is no date-time is missing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        return stamps.to_numpy().astype("datetime64[D]")
    text = values.astype("string").str.strip().str.replace(r"(?:Z|[+-]\d\d:?\d\d)$", "", regex=True)
    return pd.to_datetime(text, errors="coerce", format="mixed").to_numpy().astype("datetime64[D]")


def _segment_grouping(values: pd.Series, codes: np.ndarray, variants: list[str]):
    segment_codes, uniques = pd.factorize(values.astype("string").fillna(MISSING_SEGMENT))
    size = len(uniques)
    keys = pd.DataFrame({"variant": np.repeat(variants, size), "segment": np.tile(np.asarray(uniques, dtype=object), len(variants))})
    return codes * size + segment_codes, len(variants) * size, keys


def _numeric(frame: pd.DataFrame, name: str, rows: np.ndarray | None, metric: MetricSpec, source: str) -> np.ndarray:
    """The column as float64 (missing as NaN), or a one-line error naming a bad value."""
    series = frame[name]
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
    else:
        converted = pd.to_numeric(series, errors="coerce")
        bad = converted.isna().to_numpy() & series.notna().to_numpy()
        if bad.any():
            position = int(np.argmax(bad))
            raise InputError(
                f"{source}: metric {metric.name!r}: column {name!r} is not numeric "
                f"(value {series.iloc[position]!r} at row {position}); clean the column or fix the source"
            )
        values = converted.to_numpy(dtype=float, na_value=np.nan)
    return values if rows is None else values[rows]


def _missing(values: np.ndarray) -> np.ndarray | None:
    """Where ``values`` is NaN, or None when nothing is (one sum decides the common case)."""
    if not np.isnan(values.sum()):
        return None
    mask = np.isnan(values)
    return mask if mask.any() else None


def _metric_arrays(metric: MetricSpec, get: Callable[[str], np.ndarray], drops: DropCounter, notes: dict, source: str,
                   mature: np.ndarray | None = None):
    """Unit values of one metric after maturity (``mature``: the units that may count; the
    others' values are not looked at), the missing-value policy, zero denominators and
    winsorization, and which units count (None: all). Units that do not count may hold NaN."""
    y = get(metric.value_column)
    d = get(str(metric.denominator)) if metric.kind == "ratio" else None
    x = get(metric.covariate) if metric.covariate else None
    covariates = [get(column) for column in metric.covariates]
    named = [(metric.value_column, y)] + [(str(c), a) for c, a in ((metric.denominator, d), (metric.covariate, x)) if a is not None]
    named += list(zip(metric.covariates, covariates, strict=True))
    missing = [(name, mask) for name, values in named if (mask := _missing(values)) is not None]
    valid = mature
    if mature is not None:  # an immature unit's value is often missing: it has not happened yet
        missing = [(name, mask & mature) for name, mask in missing if (mask & mature).any()]
    if missing and metric.missing == "error":
        name, mask = missing[0]
        raise missing_value_error(metric, name, int(mask.sum()), source)
    if missing and metric.missing == "zero":
        for name, mask in missing:
            notes["filled_with_zero"][f"{metric.name}: {name}"] = int(mask.sum())
        y, d, x = (None if a is None else np.nan_to_num(a, nan=0.0) for a in (y, d, x))
        covariates = [np.nan_to_num(a, nan=0.0) for a in covariates]
    elif missing:
        incomplete = np.logical_or.reduce([mask for _, mask in missing])
        drops.add(f"metric {metric.name!r}: missing value", int(incomplete.sum()))
        valid = ~incomplete if valid is None else valid & ~incomplete
    if d is not None:
        zero = d == 0
        if valid is not None:
            zero &= valid
        drops.add(f"metric {metric.name!r}: zero denominator", int(zero.sum()))
        if zero.any():
            valid = ~zero if valid is None else valid & ~zero
    if metric.winsorized:
        y = _winsorize(metric, y, valid, notes)
    if metric.kind == "proportion":
        odd = (y != 0) & (y != 1)
        if valid is not None:
            odd &= valid
        if odd.any():
            raise not_binary_error(metric, float(y[np.argmax(odd)]), source)
    return y, d, x, covariates, valid


def _winsorize(metric: MetricSpec, y: np.ndarray, valid: np.ndarray | None, notes: dict) -> np.ndarray:
    values = y if valid is None else y[valid]
    if metric.winsorize_scope == "nonzero":
        values = values[values != 0]
    low = float(np.quantile(values, metric.winsorize_lower)) if metric.winsorize_lower is not None else -np.inf
    high = float(np.quantile(values, metric.winsorize_upper)) if metric.winsorize_upper is not None else np.inf
    clipped = np.clip(y, low, high)
    if metric.winsorize_scope == "nonzero":
        clipped = np.where(y == 0, 0.0, clipped)
    changed = clipped != y
    if valid is not None:
        changed &= valid
    notes["winsorized"][metric.name] = {"lower": low, "upper": high, "units_capped": int(changed.sum())}
    return clipped


def _moment_sums(metric: MetricSpec, codes: np.ndarray, size: int, y, d, x, valid, count,
                 terms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sums per group of the units that count. When few units do not count (and their values
    are finite), the sums over all units minus theirs is cheaper than copying the rest."""
    arrays = {"y": y, "d": d, "x": x, **terms}
    if valid is None:
        return _group_sums(metric, codes, size, arrays, count)
    invalid = np.flatnonzero(~valid)
    if 4 * len(invalid) < len(valid) and all(np.isfinite(a[invalid]).all() for a in arrays.values() if a is not None):
        total = _group_sums(metric, codes, size, arrays, count)
        excluded = _group_sums(metric, codes[invalid], size, {k: None if a is None else a[invalid] for k, a in arrays.items()},
                               np.bincount(codes[invalid], minlength=size))
        return {moment: total[moment] - excluded[moment] for moment in total}
    kept = np.flatnonzero(valid)
    return _group_sums(metric, codes[kept], size, {k: None if a is None else a[kept] for k, a in arrays.items()},
                       np.bincount(codes[kept], minlength=size))


def _group_sums(metric: MetricSpec, codes: np.ndarray, size: int, arrays: dict, count: np.ndarray) -> dict[str, np.ndarray]:
    y, d, x = arrays["y"], arrays["d"], arrays["x"]

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=weights, minlength=size)

    sums = {"n": count.astype(float), "sum_y": total(y)}
    sums["sum_y2"] = sums["sum_y"] if metric.kind == "proportion" else total(y * y)
    products = {"sum_d": (d, None), "sum_d2": (d, d), "sum_yd": (y, d), "sum_x": (x, None),
                "sum_x2": (x, x), "sum_yx": (y, x), "sum_dx": (d, x)}
    for moment in metric_moments(metric)[3:]:
        left, right = products[moment]
        sums[moment] = total(left if right is None else left * right)
    term_ids = [name for name in arrays if name not in ("y", "d", "x")]
    for moment, roles in term_products(metric.kind, term_ids).items():
        values = arrays[roles[0]] if len(roles) == 1 else arrays[roles[0]] * arrays[roles[1]]
        sums[moment] = total(values)
    return sums


def _quantile_draws(index: int, metric: MetricSpec, y: np.ndarray, valid: np.ndarray | None, codes: np.ndarray,
                    variants: list[str], samples: int, random_state: int) -> dict:
    draws = {}
    for position, variant in enumerate(variants):
        in_variant = codes == position
        if valid is not None:
            in_variant &= valid
        ordered = np.sort(y[in_variant])
        if len(ordered) == 0:
            continue
        k, ranks = bootstrap_ranks(len(ordered), float(metric.quantile), samples, quantile_rng(random_state, index, position))
        draws[(metric.name, variant)] = (float(ordered[k - 1]), ordered[ranks - 1], len(ordered))
    return draws
