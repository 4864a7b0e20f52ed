"""``python -m benchmarks [--quick] [--out DIR] [--only b1,b2,b3,b4,b5] ...``

The full run writes ``benchmarks/results/``; ``--quick`` (tiny sizes, one
server configuration, a smoke test for CI) writes to a temporary folder
unless ``--out`` says otherwise, so it never overwrites committed results.
The exit status is 1 when any measurement failed or produced no numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from benchmarks.config import say
from benchmarks.runner import BENCHMARKS, Options, run, write_report
from tests.harness.process import ROOT


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--out", type=Path, help="where results go")
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help="comma-separated subset of " + ",".join(BENCHMARKS),
    )
    parser.add_argument("--no-original", action="store_true", help="skip the 1.2.0 baseline")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL + Redis")
    parser.add_argument("--no-profile", action="store_true", help="do not run py-spy")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, DBs)")
    parser.add_argument(
        "--profile-only",
        action="store_true",
        help="redo only the py-spy profiles of OUT/results.json (full sizes), then the report",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: redraw the plots and results.md from OUT/results.json",
    )
    args = parser.parse_args(argv)
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = set(only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {sorted(unknown)}")
    out = args.out
    if out is None:
        if args.quick:
            out = Path(tempfile.mkdtemp(prefix="chatlabs-bench-quick-"))
        else:
            out = ROOT / "benchmarks" / "results"
    return Options(
        report_only=args.report_only,
        profile_only=args.profile_only,
        quick=args.quick,
        out=out.resolve(),
        only=only,
        original=not args.no_original,
        postgres=not args.no_postgres,
        profile=not args.no_profile,
        keep=args.keep,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    if options.report_only:
        data = json.loads((options.out / "results.json").read_text())
        results = write_report(data, options.out)
    else:
        results = run(options)
    if results["errors"]:
        say(f"{len(results['errors'])} measurement(s) failed; see results.json 'errors'")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
