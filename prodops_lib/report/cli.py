"""The ``prodops`` command.

Exit codes: 0 every report ran; 1 at least one report failed or timed out (the others are
still written, and the index names the failures); 2 the command could not start (bad bundle,
period, parameter file or ``--only`` name) — the message says what to fix.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from prodops_lib.io import InputError, OutputError
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

    sample = commands.add_parser("sample-data", help="generate the bundled sample data (deterministic)")
    sample.add_argument("--out", type=Path, default=None, help="folder to write (default: data/sample in the project)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "report":
            return _report(args)
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
    bundle = args.bundle or root / "parameters" / "monthly.yaml"
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise ParameterError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    result = run_bundle(bundle, period=args.period, out_dir=args.out or root / "reports",
                        only=args.only, timeout=args.timeout, progress=not args.no_progress)
    failed = [outcome for outcome in result.outcomes if not outcome.ok]
    if failed:
        print(f"{len(failed)} of {len(result.outcomes)} report(s) failed: "
              + "; ".join(f"{o.entry.name} ({o.status}: {o.error})" for o in failed), file=sys.stderr)
    print(result.index)
    return EXIT_REPORT_FAILED if failed else EXIT_OK


def _sample_data(args: argparse.Namespace) -> int:
    from prodops_lib.samples import write_sample_data

    out = args.out or project_root() / "data" / "sample"
    written = write_sample_data(out)
    print(f"wrote {len(written)} files to {out}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
