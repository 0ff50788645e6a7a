"""Regenerate the golden notebooks on purpose: ``./run golden`` (or ``python tests/golden/regenerate.py``).

Runs the sample bundle as ``prodops report`` does (``parameters/monthly.yaml`` at its default
period, into a temporary folder) and keeps each executed notebook as ``tests/golden/<name>.ipynb``:
the reference that README's test command (``pytest --nbval ... tests/golden/``) re-runs and
compares cell by cell, so a change that moves a number on a PM's page fails until the goldens
are regenerated and the diff reviewed. A golden keeps what a re-run must reproduce:

- the parameters papermill injected, made portable: the parameter file relative to the project
  root and ``results_dir`` empty, so the re-run writes to ``$PRODOPS_INTERACTIVE_DIR/<name>``
  (the checkout's ``conftest.py`` points that outside the checkout, laid out as a period's run);
- every output with ``sanitize.cfg`` applied, as nbval applies it to both sides, and without
  ``image/png`` payloads, which nbval does not compare;
- the execution counts (nbval compares only cells that ran); no timings or machine paths.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import nbformat
from nbval.plugin import get_sanitize_patterns
from papermill.translators import PythonTranslator

GOLDEN = Path(__file__).resolve().parent
ROOT = GOLDEN.parents[1]
BUNDLE = ROOT / "parameters" / "monthly.yaml"
SANITIZE = GOLDEN / "sanitize.cfg"
IMAGES = ("image/png", "image/jpeg")


def sanitize(text: str, patterns: list[tuple[str, str]]) -> str:
    """``text`` as nbval compares it (``nbval.plugin.IPyNbFile.sanitize``)."""
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


def portable_parameters(parameters: dict) -> dict:
    """The injected parameters as any checkout can re-run them."""
    return {**parameters, "results_dir": "",
            "parameters_file": Path(parameters["parameters_file"]).relative_to(ROOT).as_posix()}


def to_golden(executed: nbformat.NotebookNode, patterns: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """An executed notebook of the bundle as its golden copy."""
    parameters = portable_parameters(executed.metadata["papermill"]["parameters"])
    executed.metadata = nbformat.from_dict({
        "kernelspec": executed.metadata["kernelspec"],
        "prodops_golden": {"bundle": BUNDLE.relative_to(ROOT).as_posix(), "regenerate": "./run golden"},
    })
    for cell in executed.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = PythonTranslator.codify(parameters, "Parameters")
            cell.id = "injected-parameters"  # papermill draws a new id each run: a diff of nothing
        for output in cell.get("outputs", []):
            if "metadata" in output:
                output.metadata = {}  # image sizes; nbval compares no metadata
            if output.output_type == "stream":
                output.text = sanitize(output.text, patterns)
            for mime in IMAGES:
                output.get("data", {}).pop(mime, None)
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str):
                    output.data[mime] = sanitize(value, patterns)
                    if sanitize(output.data[mime], patterns) != output.data[mime]:
                        raise SystemExit(f"{SANITIZE.name}: a pattern does not map its own result to itself")
    return executed


def main() -> int:
    from prodops_lib.report import cli
    from prodops_lib.report.bundle import load_bundle

    bundle = load_bundle(BUNDLE)
    patterns = get_sanitize_patterns(SANITIZE.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="prodops-golden-") as out:
        if cli.main(["report", "--bundle", str(BUNDLE), "--out", out, "--no-progress"]) != 0:
            print("golden: the sample bundle did not run clean; goldens left as they were", file=sys.stderr)
            return 1
        for entry in bundle.reports:
            executed = nbformat.read(Path(out) / bundle.default_period / f"{entry.name}.ipynb", as_version=4)
            nbformat.write(to_golden(executed, patterns), GOLDEN / f"{entry.name}.ipynb")
    names = {f"{entry.name}.ipynb" for entry in bundle.reports}
    for stale in GOLDEN.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
    print(f"golden: {len(names)} notebooks written to {GOLDEN.relative_to(ROOT)}/; review `git diff` before committing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
