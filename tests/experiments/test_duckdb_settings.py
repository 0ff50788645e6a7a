"""The private DuckDB database's bounded memory: results do not depend on it. Operators that
can spill do so in the system's temporary folder; exact quantiles, which cannot, run again
without the limit, which is then restored."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb
import numpy as np

from prodops_lib.experiments import analyse_experiment
from prodops_lib.experiments.duckdb_source import Runner, database_settings

from .test_paths import MESSY_SPEC, assert_same_frames, messy_units


def test_settings_bound_memory_and_spill_to_the_temporary_folder():
    settings = database_settings()
    machine_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    assert settings["memory_limit"] == f"{min(512, machine_mb // 4)}MB"
    assert Path(settings["temp_directory"]).parent == Path(tempfile.gettempdir())
    with duckdb.connect(config=settings) as connection:  # DuckDB takes them as they are
        limit = connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    if machine_mb >= 2048:
        assert limit == "488.2 MiB"  # 512 MB


def test_a_tiny_memory_limit_changes_no_result(tmp_path, monkeypatch):
    """1 MB is below what the unit check's GROUP BY on text ids needs (and may be below what the
    winsorization caps and the quantile's order statistics need): such a query runs again
    without the limit."""
    data = messy_units()
    data["user_id"] = data["user_id"].map(lambda unit: None if np.isnan(unit) else f"u{int(unit)}")
    path = tmp_path / "messy.parquet"
    data.to_parquet(path, index=False)
    retried = []
    unlimited = Runner._without_memory_limit
    monkeypatch.setattr(Runner, "_without_memory_limit",
                        lambda self, sql: retried.append(sql) or unlimited(self, sql))
    with duckdb.connect(config={"memory_limit": "1MB", "temp_directory": str(tmp_path / "spill")}) as connection:
        bounded = analyse_experiment(path, MESSY_SPEC, random_state=3, connection=connection)
        assert connection.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "976.5 KiB"  # 1 MB, again
    # the unit check's GROUP BY on text ids at least (whether the caps' quantiles need the retry
    # too depends on how DuckDB plans them); whatever ran again, no result changed
    assert any("GROUPING SETS" in sql for sql in retried)
    in_memory = analyse_experiment(data, MESSY_SPEC, random_state=3)
    assert_same_frames(in_memory.to_frame(), bounded.to_frame(), ["metric", "variant"])
    assert_same_frames(in_memory.segments, bounded.segments, ["segment_column", "segment", "metric", "variant"])
    assert in_memory.notes["crossover_units"] == bounded.notes["crossover_units"] == 6
    assert in_memory.drops[["reason", "rows"]].equals(bounded.drops[["reason", "rows"]])
