"""The check for units seen in several variants counts exactly, whatever the kind of unit id.

The DuckDB path checks compact integer ids with a byte map (numpy) or a bit map (DuckDB's
``bitstring_agg``), and any other ids by grouping rows on a 64-bit hash of the id, then
regrouping only the candidate rows by the id itself. Each route must find exactly the units
planted here, the same as the pandas path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import analyse_experiment
from prodops_lib.io import InputError

from .conftest import make_spec, make_units

ID_KINDS = {
    "compact integers": lambda ids: ids,  # 3,000 ids over 3,000 values: byte map
    "spread integers": lambda ids: ids * 20_000,  # a span of 6e7 > 2**25: bit map
    "wide integers": lambda ids: ids * 2**40,  # a span above 2**31: hashed
    "text": lambda ids: "user-" + ids.astype(str),  # hashed
}
SPEC = make_spec(max_crossover_share=0.001)


def planted(kind: str) -> pd.DataFrame:
    """3,000 units; the first four also appear in another variant; row 10 has no unit id."""
    data = make_units(3000, seed=5)
    moved = data.iloc[:4].assign(variant=lambda frame: np.where(frame["variant"] == "B", "C", "B"))
    data = pd.concat([data, moved], ignore_index=True)
    ids = ID_KINDS[kind](data["user_id"])
    data["user_id"] = ids.astype("string" if kind == "text" else "Int64")
    data.loc[10, "user_id"] = pd.NA
    return data


@pytest.mark.parametrize("kind", list(ID_KINDS))
def test_crossover_counts_are_exact_for_every_id_kind(kind, tmp_path):
    data = planted(kind)
    path = tmp_path / "units.parquet"
    data.to_parquet(path, index=False)
    from_frame, from_parquet = analyse_experiment(data, SPEC), analyse_experiment(path, SPEC)
    for result in (from_frame, from_parquet):
        drops = dict(zip(result.drops["reason"], result.drops["rows"], strict=True))
        assert drops["missing unit id"] == 1
        assert drops["unit in more than one variant"] == 8  # 4 units, each on two rows
        assert result.notes["crossover_units"] == 4
        # 3,004 rows - 1 without id - 8 crossover rows + the 4 crossover units = 2,999 units; 4 / 2,999 = 0.13%
        assert result.notes["crossover_alarm"] == (
            "4 units (0.13%) were seen in more than one variant (alarm above 0.10%); "
            "they were dropped, but assignment may be broken"
        )
        assert sum(result.units.values()) == 2995  # 3,000 units - 1 without id - the 4 crossover units
    assert from_frame.units == from_parquet.units


@pytest.mark.parametrize("kind", list(ID_KINDS))
def test_clean_ids_pass_without_drops(kind, tmp_path):
    data = make_units(3000, seed=5)
    data["user_id"] = ID_KINDS[kind](data["user_id"])
    path = tmp_path / "units.parquet"
    data.to_parquet(path, index=False)
    result = analyse_experiment(path, SPEC)
    assert result.drops["reason"].tolist() == ["metric 'orders_per_session': zero denominator"]  # no row drops
    assert result.notes["crossover_units"] == 0
    assert sum(result.units.values()) == 3000


@pytest.mark.parametrize("kind", list(ID_KINDS))
def test_a_text_or_integer_unit_twice_in_one_variant_is_named(kind, tmp_path):
    data = make_units(3000, seed=5)
    data = pd.concat([data, data.iloc[[7]]], ignore_index=True)
    data["user_id"] = ID_KINDS[kind](data["user_id"])
    path = tmp_path / "units.parquet"
    data.to_parquet(path, index=False)
    with pytest.raises(InputError, match="unit column 'user_id' has 1 unit with several rows in one variant") as error:
        analyse_experiment(path, SPEC)
    assert str(data["user_id"].iloc[7]) in str(error.value)  # the example names the repeated unit


@pytest.mark.parametrize("spacing", [2, 20_000])  # ids over a span of 6,000 (byte map) or 6e7 (bit map)
def test_repeats_among_complete_integer_ids_are_found_by_the_id_map(spacing, tmp_path):
    """No missing id and more possible ids than rows: only the map of the id range can see the
    repeats, which must then be counted exactly."""
    data = make_units(3000, seed=5)
    moved = data.iloc[:4].assign(variant=lambda frame: np.where(frame["variant"] == "B", "C", "B"))
    data = pd.concat([data, moved], ignore_index=True)
    data["user_id"] *= spacing
    path = tmp_path / "units.parquet"
    data.to_parquet(path, index=False)
    result = analyse_experiment(path, SPEC)
    assert dict(zip(result.drops["reason"], result.drops["rows"], strict=True))["unit in more than one variant"] == 8
    assert "missing unit id" not in set(result.drops["reason"])
    assert result.notes["crossover_units"] == 4
    assert sum(result.units.values()) == 2996  # 3,000 units - the 4 crossover units
    assert result.units == analyse_experiment(data, SPEC).units
