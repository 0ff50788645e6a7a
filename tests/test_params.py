"""prodops_lib.params: typed parameter files with one-line errors, papermill-safe values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from prodops_lib import params
from prodops_lib.params import ParameterError


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Literal["mean", "proportion"] = "mean"
    margin: float | None = None


@dataclass(frozen=True)
class Settings:
    source: Path
    alpha: float = 0.05
    start: dt.date | None = None
    metrics: list[Metric] = field(default_factory=list)
    split: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha {self.alpha} must be between 0 and 1")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builds_nested_typed_values(tmp_path):
    path = write(tmp_path, "source: data/x.csv\nalpha: 0.1\nstart: 2026-10-01\nseed: 3\n"
                           "metrics:\n  - name: revenue\n  - {name: converted, kind: proportion, margin: 0.02}\n"
                           "split: {control: 0.5, treatment: 0.5}\n")
    settings = params.load(path, Settings)
    assert settings.source == Path("data/x.csv")
    assert settings.alpha == 0.1
    assert settings.start == dt.date(2026, 10, 1)
    assert settings.metrics == [Metric("revenue"), Metric("converted", "proportion", 0.02)]
    assert settings.split == {"control": 0.5, "treatment": 0.5}


def test_unknown_key_suggests_the_nearest_valid_one(tmp_path):
    path = write(tmp_path, "source: x.csv\nalhpa: 0.1\n")
    with pytest.raises(ParameterError) as error:
        params.load(path, Settings)
    message = str(error.value)
    assert message == f"{path}: alhpa: unknown key; did you mean 'alpha'?"
    assert "\n" not in message


def test_unknown_nested_key_names_its_position(tmp_path):
    path = write(tmp_path, "source: x.csv\nmetrics:\n  - name: a\n  - name: b\n    kidn: mean\n")
    with pytest.raises(ParameterError, match=r"metrics\[1\]\.kidn: unknown key; did you mean 'kind'\?"):
        params.load(path, Settings)


def test_wrong_type_names_file_key_and_expectation(tmp_path):
    path = write(tmp_path, "source: x.csv\nalpha: five percent\n")
    with pytest.raises(ParameterError, match=r"settings\.yaml: alpha: expected a number, got 'five percent' \(str\)"):
        params.load(path, Settings)


def test_bool_is_not_accepted_as_a_number(tmp_path):
    path = write(tmp_path, "source: x.csv\nseed: true\n")
    with pytest.raises(ParameterError, match="seed: expected a whole number"):
        params.load(path, Settings)


def test_literal_value_suggests_the_allowed_one(tmp_path):
    path = write(tmp_path, "source: x.csv\nmetrics: [{name: a, kind: propotion}]\n")
    with pytest.raises(ParameterError, match=r"metrics\[0\]\.kind: 'propotion' is not allowed; expected one of 'mean', 'proportion' \(did you mean 'proportion'\?\)"):
        params.load(path, Settings)


def test_missing_required_key(tmp_path):
    path = write(tmp_path, "alpha: 0.1\n")
    with pytest.raises(ParameterError, match="source: required key is missing; expected a file path"):
        params.load(path, Settings)


def test_cross_field_rule_is_reported_with_the_file(tmp_path):
    path = write(tmp_path, "source: x.csv\nalpha: 2\n")
    with pytest.raises(ParameterError, match=r"settings\.yaml: alpha 2\.0 must be between 0 and 1"):
        params.load(path, Settings)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ParameterError, match="parameter file not found"):
        params.load(tmp_path / "nope.yaml", Settings)
    path = write(tmp_path, "source: [unclosed\n")
    with pytest.raises(ParameterError, match=r"invalid YAML at line \d+, column \d+"):
        params.load(path, Settings)


def test_overrides_replace_file_values(tmp_path):
    path = write(tmp_path, "source: x.csv\nalpha: 0.1\n")
    assert params.load(path, Settings, overrides={"alpha": 0.01}).alpha == 0.01


def test_to_papermill_converts_explicitly():
    converted = params.to_papermill({
        "day": dt.date(2026, 10, 1), "when": dt.datetime(2026, 10, 1, 9, 30), "path": Path("data/x.csv"),
        "pair": (1, 2), "count": np.int64(3), "share": np.float32(0.5), "flags": np.array([True, False]),
    })
    assert converted == {"day": "2026-10-01", "when": "2026-10-01T09:30:00", "path": "data/x.csv",
                         "pair": [1, 2], "count": 3, "share": 0.5, "flags": [True, False]}
    assert type(converted["count"]) is int


def test_to_papermill_refuses_what_it_cannot_carry():
    with pytest.raises(ParameterError, match=r"bundle: tags: a set cannot be passed to a notebook"):
        params.to_papermill({"tags": {"a", "b"}}, source="bundle")
    with pytest.raises(ParameterError, match="nan cannot be passed"):
        params.to_papermill({"x": float("nan")})


def test_converted_values_build_back_into_the_same_dataclass(tmp_path):
    injected = params.to_papermill({"source": Path("data/x.csv"), "start": dt.date(2026, 10, 1)})
    settings = params.build(Settings, injected, source="injected")
    assert settings.start == dt.date(2026, 10, 1) and settings.source == Path("data/x.csv")


def test_period_parsing_and_bounds():
    assert params.parse_period("2026-10") == "2026-10"
    assert params.month_bounds("2026-12") == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert params.month_bounds("2028-02") == (dt.date(2028, 2, 1), dt.date(2028, 2, 29))
    with pytest.raises(ParameterError, match=r"--period: '2026-13' is not a month; write it as YYYY-MM"):
        params.parse_period("2026-13", "--period")


def test_paths_resolve_from_the_project_root_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODOPS_ROOT", str(tmp_path))
    monkeypatch.chdir("/")
    assert params.resolve_path("data/x.csv") == tmp_path / "data" / "x.csv"
    assert params.resolve_path("/abs/x.csv") == Path("/abs/x.csv")


def test_a_key_written_twice_is_refused(tmp_path):
    path = write(tmp_path, "source: x.csv\nalpha: 0.1\nalpha: 0.2\n")
    with pytest.raises(ParameterError, match=r"settings\.yaml: key 'alpha' is written twice \(line 3\); keep one"):
        params.load(path, Settings)


def test_a_control_character_is_a_one_line_error(tmp_path):
    path = write(tmp_path, "source: x\x07.csv\n")
    with pytest.raises(ParameterError, match=r"settings\.yaml: invalid YAML: ") as error:
        params.load(path, Settings)
    assert "\n" not in str(error.value)


def test_files_read_are_remembered_for_the_manifest(tmp_path):
    path = write(tmp_path, "source: x.csv\n")
    params.load(path, Settings)
    assert path in params.files_read()


def test_a_notebook_refuses_a_kit_parameter_file_passed_key_by_key_and_names_the_right_command():
    from prodops_lib.experiments.report import ExperimentReport

    notebook = {"period": "2026-10", "parameters_file": "parameters/ab_search_ranking.yaml", "source": "x.csv",
                "experiment": {"name": "x"}, "params": params}  # what papermill -f injects next to the imports
    with pytest.raises(params.ParameterError, match=r"^parameters source, experiment were given one by one \(papermill "
                                                   r"-f with a kit parameter file\?\), .* -p parameters_file YOUR_FILE\.yaml"):
        params.load("parameters/ab_search_ranking.yaml", ExperimentReport, notebook=notebook)
    # the notebook's own parameters and imported modules are not parameter-file keys
    settings = params.load("parameters/ab_search_ranking.yaml", ExperimentReport,
                           notebook={"period": "2026-10", "params": params})
    assert settings.experiment.name == "search_ranking"


def test_report_name_and_results_folder_follow_the_parameter_file_unless_given(monkeypatch):
    monkeypatch.delenv("PRODOPS_INTERACTIVE_DIR", raising=False)
    assert params.report_paths("parameters/ab_search_ranking.yaml", "", "") == (
        "ab_search_ranking", "reports/interactive/ab_search_ranking")
    assert params.report_paths("parameters/x.yaml", "checkout", "/tmp/r") == ("checkout", "/tmp/r")


def test_the_interactive_results_folder_moves_with_prodops_interactive_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PRODOPS_INTERACTIVE_DIR", str(tmp_path))
    assert params.report_paths("parameters/fake_door_ai_summary.yaml", "", "") == (
        "fake_door_ai_summary", str(tmp_path / "fake_door_ai_summary"))
    assert params.report_paths("parameters/x.yaml", "x", "/tmp/r") == ("x", "/tmp/r")  # a given folder wins
