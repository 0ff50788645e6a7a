"""The ``prodops`` command.

Exit codes: 0 every report ran (``check``: every input is usable); 1 at least one report
failed or timed out (the others are still written, and the index names the failures;
``check``: a report's inputs are unusable); 2 the command could not start (bad bundle,
period, parameter file or ``--only`` name) — the message says what to fix.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from prodops_lib.io import InputError, OutputError
from prodops_lib.labels import count_of
from prodops_lib.params import ParameterError, project_root

EXIT_OK, EXIT_REPORT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prodops", description="Product Ops reports: run, export, sample data.")
    commands = parser.add_subparsers(dest="command", required=True)

    report = commands.add_parser("report", help="run the monthly bundle of notebooks into reports/<period>/")
    report.add_argument("--period", help="the month to report, YYYY-MM (default: the bundle's default_period, "
                                         "else the last complete month)")
    report.add_argument("--bundle", type=Path, help="bundle file (default: parameters/monthly.yaml in the project)")
    report.add_argument("--out", type=Path, default=None, help="output folder (default: reports/ in the project)")
    report.add_argument("--only", nargs="+", metavar="NAME", help="run only these reports of the bundle")
    report.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="stop a notebook that runs longer than this and report it as timed out")
    report.add_argument("--no-progress", action="store_true", help="no per-cell progress bars")

    check = commands.add_parser("check", help="check every report's parameters and inputs without running notebooks")
    check.add_argument("--period", help="the month to check, YYYY-MM (default: each report's last month with data)")
    check.add_argument("--bundle", type=Path, help="bundle file (default: parameters/monthly.yaml in the project)")
    check.add_argument("--only", nargs="+", metavar="NAME", help="check only these reports of the bundle")

    ledger = commands.add_parser("ledger", help="the experiment ledger kept under the output folder")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    load = ledger_commands.add_parser("import", help="load past results from a CSV of effects and standard errors")
    load.add_argument("file", type=Path, help="CSV with experiment, period (or end_date), metric, effect, standard_error")
    load.add_argument("--out", type=Path, default=None, help="output folder (default: reports/ in the project)")

    sample = commands.add_parser("sample-data", help="generate the bundled sample data (deterministic)")
    sample.add_argument("--out", type=Path, default=None, help="folder to write (default: data/sample in the project)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "report":
            return _report(args)
        if args.command == "check":
            return _check(args)
        if args.command == "ledger":
            return _ledger_import(args)
        return _sample_data(args)
    except (ParameterError, InputError) as error:
        print(f"prodops {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OutputError as error:  # the reports could not be written: not a usage error
        print(f"prodops {args.command}: {error}", file=sys.stderr)
        return EXIT_REPORT_FAILED


def _report(args: argparse.Namespace) -> int:
    from prodops_lib.report.run import run_bundle

    root = project_root()
    bundle = _bundle_file(args)
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise ParameterError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    period, warnings = _checked_period(bundle, args.period, args.only)
    result = run_bundle(bundle, period=period, out_dir=args.out or root / "reports", only=args.only,
                        timeout=args.timeout, progress=not args.no_progress, warnings=warnings)
    failed = [outcome for outcome in result.outcomes if not outcome.ok]
    if failed:
        print(f"{len(failed)} of {count_of(len(result.outcomes), 'report')} failed: "
              + "; ".join(f"{o.entry.name} ({o.status}: {o.error})" for o in failed), file=sys.stderr)
    print(result.index)
    return EXIT_REPORT_FAILED if failed else EXIT_OK


def _bundle_file(args: argparse.Namespace) -> Path:
    """``--bundle`` as typed, relative to the working directory (like any file on a command
    line), else the project's ``parameters/monthly.yaml``."""
    return args.bundle.resolve() if args.bundle else project_root() / "parameters" / "monthly.yaml"


def _checked_period(bundle: Path, period: str | None, only: list[str] | None) -> tuple[str | None, dict[str, list[str]]]:
    """The period to run (``--period``, else the bundle's ``default_period``, else the last
    month every checked report has data for) and each report's check warnings. A report whose
    check fails is left to fail in its own run, where its page says why."""
    from prodops_lib.params import parse_period
    from prodops_lib.report.bundle import load_bundle
    from prodops_lib.report.check import check_bundle, last_common_month

    chosen = parse_period(period, "--period") if period else load_bundle(bundle).default_period
    checks = check_bundle(bundle, period=chosen, only=only)
    if chosen is None:
        chosen = last_common_month(checks)
        if chosen is not None:
            print(f"period {chosen}: the last month with data in every checked report (--period to choose)")
    return chosen, {c.entry.name: c.check.warnings for c in checks if c.check is not None and c.check.warnings}


def _check(args: argparse.Namespace) -> int:
    from prodops_lib.params import parse_period
    from prodops_lib.report.check import check_bundle

    bundle = _bundle_file(args)
    period = parse_period(args.period, "--period") if args.period else None
    checks = check_bundle(bundle, period=period, only=args.only)
    for result in checks:
        print(result.to_text() + "\n")
    errors = [result.entry.name for result in checks if result.error]
    warned = sum(len(result.check.warnings) for result in checks if result.check)
    print(f"{count_of(len(checks), 'report')} checked: {len(errors)} with unusable inputs"
          + (f" ({', '.join(errors)})" if errors else "") + f", {count_of(warned, 'warning')}")
    return EXIT_REPORT_FAILED if errors else EXIT_OK


def _ledger_import(args: argparse.Namespace) -> int:
    from prodops_lib.experiments.ledger import import_ledger_csv, ledger_folder

    out = args.out or project_root() / "reports"
    rows = import_ledger_csv(out, args.file)
    print(f"imported {count_of(len(rows), 'row')} ({count_of(rows['experiment'].nunique(), 'experiment')}, "
          f"{count_of(rows['period'].nunique(), 'period')}) into {ledger_folder(out)}")
    return EXIT_OK


def _sample_data(args: argparse.Namespace) -> int:
    from prodops_lib.samples import write_sample_data

    out = args.out or project_root() / "data" / "sample"
    written = write_sample_data(out)
    print(f"wrote {len(written)} files to {out}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
