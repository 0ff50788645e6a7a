"""``manifest.json``: what a run used, so that its numbers can be reproduced.

It records the period, each report's injected parameters and parameter-file contents (personal
data redacted: the manifest is shared with the reports), the
SHA-256 of every input file the notebooks read (from each report's ``inputs.json``), of the
notebooks and parameter files themselves, the versions of Python and the key packages, the
git commit (and whether the tree had uncommitted changes), and durations.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodops_lib.display import to_jsonable
from prodops_lib.io import file_sha256
from prodops_lib.params import load_yaml, resolve_path
from prodops_lib.privacy import redact, redact_all

if TYPE_CHECKING:
    from prodops_lib.report.bundle import Bundle
    from prodops_lib.report.run import RunResult

KEY_PACKAGES = (
    "prodops-kit", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "matplotlib",
    "seaborn", "duckdb", "pyarrow", "papermill", "nbconvert", "nbclient", "ipykernel",
    "sentence-transformers", "torch",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change the numbers or the rendering."""
    versions = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_state(root: Path) -> dict[str, Any] | None:
    """The commit the project is at and whether it has uncommitted changes (None outside git)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def build_manifest(bundle: Bundle, bundle_file: Path, root: Path, result: RunResult,
                   staging: Path, started: float) -> dict[str, Any]:
    """The manifest for a finished run (written before the staging folder is swapped in)."""
    reports = []
    for outcome in result.outcomes:
        if outcome.carried_over is not None:
            reports.append({**outcome.carried_over, "carried_over": True})
            continue
        entry = outcome.entry
        notebook = resolve_path(entry.notebook, root)
        parameters_file = resolve_path(entry.parameters, root) if entry.parameters else None
        inputs_file = staging / "results" / entry.name / "inputs.json"
        inputs = _read_inputs(inputs_file)
        reports.append({
            "name": entry.name,
            "title": entry.display_title,
            "status": outcome.status,
            "error": outcome.error,
            "failed_cell": outcome.failed_cell,
            "duration_seconds": round(outcome.duration_seconds, 3),
            "notebook": {"path": entry.notebook, "sha256": file_sha256(notebook)},
            "parameters_file": _parameters_record(entry.parameters, parameters_file),
            "injected_parameters": redact_all({  # as seen after the staging folder is renamed into place
                key: value.replace(staging.as_posix(), result.folder.as_posix()) if isinstance(value, str) else value
                for key, value in outcome.injected.items()
            }),
            "carried_over": False,
            "inputs": inputs,
        })
    return {
        "period": result.period,
        "bundle": {"path": str(bundle_file.relative_to(root)) if bundle_file.is_relative_to(root)
                   else str(bundle_file), "sha256": file_sha256(bundle_file), "title": bundle.title},
        "started_at": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
        "duration_seconds": round(result.duration_seconds, 3),
        "status": "ok" if result.ok else "failed",
        "versions": package_versions(),
        "platform": platform.platform(),
        "git": git_state(root),
        "reports": reports,
    }


def _parameters_record(name: str | None, path: Path | None) -> dict[str, Any] | None:
    """The parameter file's path, hash and contents with personal data redacted (or the reason
    its contents are missing: a file with a YAML error has already failed its report, and must
    not stop the manifest). The hash is of the file as it is, so it still identifies it."""
    if path is None:
        return None
    record: dict[str, Any] = {"path": name, "sha256": file_sha256(path) if path.is_file() else None}
    try:
        record["contents"] = redact_all(to_jsonable(load_yaml(path)))
    except ValueError as error:
        record["contents"], record["error"] = None, redact(str(error))
    return record


def _read_inputs(path: Path) -> list[dict[str, Any]]:
    """A report's ``inputs.json``, or nothing when it is missing or unreadable."""
    if not path.is_file():
        return []
    try:
        inputs = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    return inputs if isinstance(inputs, list) else []
