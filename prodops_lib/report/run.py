"""Run a bundle of notebooks for one period and write ``reports/<period>/``.

Every notebook runs through papermill's Python API in this one process. A notebook that fails
or times out does not stop the others; its failing cell and error are recorded and named on
the index page, and the run as a whole reports failure. The period's folder is built in a
staging folder beside it and swapped in at the end, so a re-run never leaves a mix of old and
new files.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import nbformat

from prodops_lib.io import CHECK_WARNINGS, OutputError
from prodops_lib.params import ParameterError, parse_period, resolve_path, to_papermill
from prodops_lib.report.bundle import Bundle, ReportEntry, bundle_root, load_bundle

Status = Literal["ok", "failed", "timeout"]
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class ReportOutcome:
    """What happened to one notebook run."""

    entry: ReportEntry
    status: Status = "ok"
    error: str | None = None
    failed_cell: int | None = None
    failed_source: str | None = None
    duration_seconds: float = 0.0
    headline: dict[str, Any] | None = None
    injected: dict[str, Any] = field(default_factory=dict)
    html_exported: bool = False
    carried_over: dict[str, Any] | None = None  # the previous run's manifest entry, when not re-run

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class RunResult:
    """The whole run: where it was written and each report's outcome."""

    period: str
    folder: Path
    outcomes: list[ReportOutcome]
    duration_seconds: float

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def index(self) -> Path:
        return self.folder / "index.html"


def run_bundle(
    bundle_path: str | Path,
    *,
    period: str | None = None,
    out_dir: str | Path = "reports",
    only: list[str] | None = None,
    timeout: float | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    warnings: dict[str, list[str]] | None = None,
) -> RunResult:
    """Run the bundle's notebooks (or those named in ``only``) for ``period``.

    ``timeout`` bounds each notebook's whole execution in seconds; a notebook that exceeds it
    is stopped and reported as a timeout. With ``only``, the period's other reports are kept
    from the previous run (and named as such on the index), so re-running one report never
    removes the others. ``warnings`` (report name → lines, from ``prodops check``) are saved
    in each report's results folder, where its appendix shows them.
    """
    from prodops_lib.report.index import write_index
    from prodops_lib.report.manifest import build_manifest

    bundle_file = Path(bundle_path).resolve()
    bundle = load_bundle(bundle_file)
    root = bundle_root(bundle_file)
    period = parse_period(period or bundle.default_period or _last_complete_month(), "--period")
    entries = bundle.select(only)
    out = Path(out_dir).resolve()
    final = out / period
    # A fixed staging name: identical runs inject identical paths into the notebooks.
    staging = out / f".{period}.staging"
    unfinished = out / f".{period}.unfinished"
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = _period_lock(out, period)
        lock.__enter__()
    except OSError as error:
        raise OutputError(f"--out {out}: cannot write there ({error.strerror or error}); "
                          "choose a writable folder with --out") from None
    finished: list[ReportOutcome] = []
    try:
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed run: never a period
        carried = _carry_over(final, staging, bundle, entries) if only else []
        (staging / "results").mkdir(parents=True, exist_ok=True)
        started = time.time()
        write_check_warnings(staging / "results", warnings or {})
        outcomes = _run_entries(entries, period, root, staging, timeout, progress, echo, finished)
        ordered = _in_bundle_order(bundle, outcomes + carried)
        result = RunResult(period, final, ordered, time.time() - started)
        manifest = build_manifest(bundle, bundle_file, root, result, staging, started)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        write_index(bundle, result, staging)
        _swap_into_place(staging, final)
        shutil.rmtree(unfinished, ignore_errors=True)  # a full run supersedes what a fault left
        _record_in_ledger(out, period, final, entries, only)
    except OutputError:  # the ledger's own message: the period itself was written
        raise
    except OSError as error:
        # a full disk, a folder made read-only: the previous period folder is untouched, and
        # the reports that finished stay where the user can take them
        raise OutputError(_fault_message(error, final, staging, unfinished, finished)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # only left when something above failed
        lock.__exit__(None, None, None)
    return result


def _record_in_ledger(out: Path, period: str, final: Path, entries: list[ReportEntry], only: list[str] | None) -> None:
    """Bring the experiment ledger in line with the period just swapped into place: the reports
    that ran replace their rows (all the period's rows on a full run); no ledger is started for
    a period without experiments."""
    from prodops_lib.experiments.ledger import build_ledger_rows, ledger_folder, update_ledger

    ran = [entry.name for entry in entries]
    rows = build_ledger_rows(final / "results", period, ran)
    if rows.empty and not (ledger_folder(out) / f"period={period}").is_dir():
        return
    try:
        update_ledger(out, period, rows, replace_experiments=ran if only else None)
    except OSError as error:
        raise OutputError(f"{error.strerror or error} writing the experiment ledger in {ledger_folder(out)}: the "
                          f"reports of {period} are written; free space or fix the folder's permissions and run "
                          "again to update the ledger") from None


def write_check_warnings(results: Path, warnings: dict[str, list[str]]) -> None:
    """Leave each report's check warnings in its results folder (``results/<name>``), where
    the notebook's appendix shows them."""
    for name, lines in warnings.items():
        if lines:
            (results / name).mkdir(parents=True, exist_ok=True)
            (results / name / CHECK_WARNINGS).write_text(json.dumps(lines, indent=2) + "\n", encoding="utf-8")


def _fault_message(error: OSError, final: Path, staging: Path, unfinished: Path,
                   finished: list[ReportOutcome]) -> str:
    """One line for a write fault, naming what was kept; moves the finished reports out of the
    staging folder (which the next run clears) into ``unfinished``."""
    where = f" writing {error.filename}" if error.filename else ""
    kept = "the previous reports of this period are unchanged" if final.is_dir() else "no earlier reports existed"
    names = [outcome.entry.name for outcome in finished if outcome.ok]
    if names and staging.is_dir():
        try:
            shutil.rmtree(unfinished, ignore_errors=True)
            os.replace(staging, unfinished)
            kept += f"; {', '.join(names)} finished before the fault and are kept in {unfinished}"
        except OSError:
            kept += f"; {', '.join(names)} finished before the fault and are in {staging} until the next run"
    return f"{error.strerror or error}{where}: {kept}; free space or fix the folder's permissions and run again"


def _run_entries(entries: list[ReportEntry], period: str, root: Path, staging: Path, timeout: float | None,
                 progress: bool, echo: Callable[[str], None], outcomes: list[ReportOutcome]) -> list[ReportOutcome]:
    """Run ``entries`` in order, appending each outcome to ``outcomes`` as it finishes (so a
    fault in a later step still knows what finished)."""
    previous_root = os.environ.get("PRODOPS_ROOT")
    os.environ["PRODOPS_ROOT"] = str(root)  # kernels inherit it: paths resolve from the project root
    try:
        for number, entry in enumerate(entries, start=1):
            echo(f"[{number}/{len(entries)}] {entry.name}: running {entry.notebook}")
            outcome = _run_one(entry, period, root, staging, timeout, progress)
            mark = {"ok": "ok", "failed": "FAILED", "timeout": "TIMED OUT"}[outcome.status]
            detail = f" — {outcome.error}" if outcome.error else ""
            echo(f"[{number}/{len(entries)}] {entry.name}: {mark} in {outcome.duration_seconds:.1f}s{detail}")
            outcomes.append(outcome)
    finally:
        if previous_root is None:
            os.environ.pop("PRODOPS_ROOT", None)
        else:
            os.environ["PRODOPS_ROOT"] = previous_root
    return outcomes


@contextlib.contextmanager
def _period_lock(out: Path, period: str) -> Iterator[None]:
    """One run per period and output folder at a time (two would share the staging folder).
    An operating-system lock (``filelock``: fcntl on Unix, msvcrt on Windows), so a killed run
    never leaves the period locked; the lock file is removed when the run ends."""
    from filelock import FileLock, Timeout

    path = out / f".{period}.lock"
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ParameterError(f"--period {period}: another `prodops report` is writing {out / period}; "
                             "wait for it to finish") from None
    try:
        yield
    finally:
        lock.release()
        path.unlink(missing_ok=True)


def _carry_over(final: Path, staging: Path, bundle: Bundle, selected: list[ReportEntry]) -> list[ReportOutcome]:
    """Copy the period's existing reports that are not re-run into the staging folder, and
    describe them from the previous run's manifest."""
    if not final.is_dir():
        return []
    shutil.copytree(final, staging, ignore=shutil.ignore_patterns("index.html", "manifest.json"))
    rerun = {entry.name for entry in selected}
    for name in rerun:
        for path in (staging / f"{name}.html", staging / f"{name}.ipynb", staging / "logs" / f"{name}.log"):
            path.unlink(missing_ok=True)
        shutil.rmtree(staging / "results" / name, ignore_errors=True)
    previous = {}
    manifest_file = final / "manifest.json"
    if manifest_file.is_file():
        try:
            previous = {r["name"]: r for r in json.loads(manifest_file.read_text(encoding="utf-8"))["reports"]}
        except (json.JSONDecodeError, KeyError, TypeError):
            previous = {}
    carried = []
    for entry in bundle.reports:
        if entry.name in rerun or entry.name not in previous:
            continue
        record = previous[entry.name]
        outcome = ReportOutcome(entry, status=record.get("status", "failed"), error=record.get("error"),
                                failed_cell=record.get("failed_cell"),
                                duration_seconds=float(record.get("duration_seconds") or 0.0),
                                injected=record.get("injected_parameters") or {},
                                html_exported=(staging / f"{entry.name}.html").is_file(), carried_over=record)
        outcome.headline = _read_headline(staging / "results" / entry.name)
        carried.append(outcome)
    return carried


def _in_bundle_order(bundle: Bundle, outcomes: list[ReportOutcome]) -> list[ReportOutcome]:
    position = {entry.name: index for index, entry in enumerate(bundle.reports)}
    return sorted(outcomes, key=lambda outcome: position[outcome.entry.name])


def _last_complete_month() -> str:
    today = time.localtime()
    year, month = (today.tm_year, today.tm_mon - 1) if today.tm_mon > 1 else (today.tm_year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _run_one(entry: ReportEntry, period: str, root: Path, staging: Path, timeout: float | None,
             progress: bool) -> ReportOutcome:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    results_dir = staging / "results" / entry.name
    results_dir.mkdir(parents=True, exist_ok=True)
    executed = staging / f"{entry.name}.ipynb"
    outcome = ReportOutcome(entry)
    started = time.monotonic()
    try:
        injected = {"period": period, "report_name": entry.name, "results_dir": results_dir.as_posix()}
        if entry.parameters:
            injected["parameters_file"] = resolve_path(entry.parameters, root).as_posix()
        injected.update(entry.inject)
        outcome.injected = to_papermill(injected, source=f"bundle entry {entry.name!r}")
        limits = [(t, source) for t, source in ((timeout, "--timeout"), (entry.timeout, "the bundle's timeout"))
                  if t is not None]
        timeout, limit_source = min(limits) if limits else (None, None)
        clock = _NotebookClock(timeout)
        kernel_log = staging / "logs" / f"{entry.name}.log"
        kernel_log.parent.mkdir(exist_ok=True)
        with kernel_log.open("w", encoding="utf-8") as log_file:
            papermill.execute_notebook(
                str(resolve_path(entry.notebook, root)),
                str(executed),
                parameters=outcome.injected,
                kernel_name="python3",
                language="python",
                progress_bar=progress,
                cwd=str(root),
                kernel_manager_class=_kernel_manager_logging_to(log_file),
                **clock.engine_options(),
            )
    except PapermillExecutionError as error:
        outcome.status = "failed"
        outcome.failed_cell = error.exec_count
        outcome.failed_source = _first_lines(error.source)
        outcome.error = f"{error.ename}: {_clean(error.evalue)}"
    except TimeoutError:  # nbclient's CellTimeoutError is a TimeoutError
        outcome.status = "timeout"
        outcome.error = f"stopped after {timeout:g} s: the notebook did not finish within {limit_source}"
        cell = clock.current_cell
        if cell is not None:
            outcome.failed_cell = cell.get("execution_count")
            outcome.failed_source = _first_lines(cell.get("source", ""))
        _mark_timeout(executed, cell, outcome.error)
    except Exception as error:  # a dead kernel, a bad parameter value: still one report's failure
        outcome.status = "failed"
        outcome.error = f"{type(error).__name__}: {_clean(str(error))}"
    outcome.duration_seconds = time.monotonic() - started
    outcome.headline = _read_headline(results_dir)
    if executed.is_file():
        outcome.html_exported = _export(executed, staging / f"{entry.name}.html", entry, outcome,
                                        resolve_path(entry.notebook, root).parent)
    # Reports that read other reports' results (the monthly review) need to know whether
    # those ran to the end; a partial results folder looks complete otherwise.
    (results_dir / "status.json").write_text(
        json.dumps({"status": outcome.status, "error": outcome.error}) + "\n", encoding="utf-8")
    return outcome


def _kernel_manager_logging_to(log_file: IO[str]) -> type:
    """A kernel manager whose kernel writes its own stdout/stderr (start-up notices, shutdown
    noise) to ``log_file`` instead of the terminal; cell outputs still go to the notebook."""
    from jupyter_client.manager import AsyncKernelManager

    class KernelWithLog(AsyncKernelManager):
        async def start_kernel(self, **options: Any) -> None:
            options.setdefault("stdout", log_file)
            options.setdefault("stderr", log_file)
            await super().start_kernel(**options)

    return KernelWithLog


class _NotebookClock:
    """A deadline for a whole notebook, enforced through nbclient's per-cell ``timeout_func``.

    It also remembers the cell being run, because after a timeout papermill leaves the
    notebook's metadata looking clean and would not say which cell it was.
    """

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.current_cell: dict | None = None

    def seconds_left(self, cell: dict) -> int:
        self.current_cell = cell
        if self.deadline is None:
            return -1  # nbclient reads a negative timeout as "none"
        return max(1, int(self.deadline - time.monotonic() + 0.999))

    def engine_options(self) -> dict[str, Any]:
        return {"timeout_func": self.seconds_left} if self.timeout else {}


def _mark_timeout(executed: Path, cell: dict | None, message: str) -> None:
    """Record the timeout in the executed notebook, where papermill does not: the notebook's
    metadata, an error output on the cell that was running, and a banner at the top."""
    if not executed.is_file():
        return
    notebook = nbformat.read(executed, as_version=4)
    notebook.metadata.setdefault("papermill", {})["exception"] = True
    notebook.metadata["papermill"]["timeout"] = message
    cell_id = (cell or {}).get("id")
    for candidate in notebook.cells:
        if cell_id is not None and candidate.get("id") == cell_id:
            candidate.metadata.setdefault("papermill", {})["exception"] = True
            candidate.metadata["papermill"]["status"] = "failed"
            candidate.outputs.append(nbformat.v4.new_output(
                "error", ename="TimeoutError", evalue=message, traceback=[f"TimeoutError: {message}"]))
    banner = nbformat.v4.new_markdown_cell(
        f'<span style="color:#b03a2e;font-weight:bold">This report timed out: {message}.</span>'
    )
    banner.metadata["tags"] = ["prodops-timeout"]
    notebook.cells.insert(0, banner)
    nbformat.write(notebook, executed)


def _read_headline(results_dir: Path) -> dict[str, Any] | None:
    file = results_dir / "headline.json"
    if not file.is_file():
        return None
    try:
        headline = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(headline, dict) or not isinstance(headline.get("headline"), str):
        return None  # a notebook wrote something else: the card shows no headline
    return headline


def _export(executed: Path, html: Path, entry: ReportEntry, outcome: ReportOutcome,
            notebook_folder: Path) -> bool:
    from prodops_lib.report.export import export_html

    try:
        export_html(executed, html, title=entry.display_title, resource_dir=notebook_folder)
    except Exception as error:  # an export failure is this report's failure, not the run's
        if outcome.ok:
            outcome.status = "failed"
            outcome.error = f"HTML export failed: {type(error).__name__}: {_clean(str(error))}"
        return False
    return True


def _clean(text: str) -> str:
    """One readable line from an error message (ANSI colour codes removed)."""
    lines = [line.strip() for line in _ANSI.sub("", str(text)).splitlines() if line.strip()]
    return (lines[0] if lines else "").strip()[:500]


def _first_lines(source: str, count: int = 3) -> str:
    return "\n".join(str(source).splitlines()[:count])


def _swap_into_place(staging: Path, final: Path) -> None:
    """Replace ``final`` with ``staging`` by two renames: readers see the old folder or the new
    one, never a mix (the gap between the renames is a moment with no folder at all)."""
    retired = final.with_name(f".{final.name}.old")
    shutil.rmtree(retired, ignore_errors=True)
    if final.exists():
        os.replace(final, retired)
    os.replace(staging, final)
    shutil.rmtree(retired, ignore_errors=True)


__all__ = ["Bundle", "ReportOutcome", "RunResult", "run_bundle", "write_check_warnings"]
