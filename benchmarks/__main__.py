"""``python -m benchmarks [--quick] [--out DIR] [--only b1,b2,b3,b4,b5] ...``

The full run writes ``benchmarks/results/``; ``--quick`` (tiny sizes, one server
configuration: a smoke test) writes to a temporary folder unless ``--out`` says
otherwise. The exit status is 1 when any measurement failed.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes: a smoke test")
    add("--out", type=Path, help="where results go")
    add("--only", default=",".join(BENCHMARKS), help="a comma-separated subset of b1,...,b5")
    add("--no-postgres", action="store_true", help="skip the PostgreSQL + Redis configurations")
    add("--keep", action="store_true", help="keep the work folder (logs, databases)")
    add("--report-only", action="store_true", help="redraw results.md and plots from results.json")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    if unknown := set(only) - set(BENCHMARKS):
        parser.error(f"unknown benchmarks: {sorted(unknown)}")
    out = args.out or ROOT / "benchmarks" / "results"
    if args.quick and not args.out:  # never over the committed results
        out = Path(tempfile.mkdtemp(prefix="chatlabs-bench-quick-"))
    if args.report_only:
        results = write_report(json.loads((out / "results.json").read_text()), out.resolve())
    else:
        results = run(Options(args.quick, out.resolve(), only, not args.no_postgres, args.keep))
    if results["errors"]:
        say(f"{len(results['errors'])} measurement(s) failed; see results.json 'errors'")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
