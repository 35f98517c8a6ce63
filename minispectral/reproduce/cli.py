"""``minispectral reproduce {params,sparse,pruning}``: one command per study of the papers.

    minispectral reproduce params --quick               # seconds: subsets, 2 epochs
    minispectral reproduce params                       # the full study, into results/params
    minispectral reproduce sparse --plan                # the runs and the estimated time; trains nothing
    minispectral reproduce pruning --jobs 2             # two runs at a time
    minispectral reproduce params --report-only         # rebuild table.md and the figure
    minispectral reproduce params --scheduler tcp://host:8786   # the runs on a Dask cluster

Rerunning a command trains only the runs missing from ``<out>/runs.jsonl``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import STUDIES
from ..cli import data_folder, output_folder
from .common import positive_int, run_study


def add_reproduce_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``reproduce`` and its studies to the ``minispectral`` command's subparsers."""
    parser = subparsers.add_parser(
        "reproduce", help="run a study of the papers: params, sparse, pruning, pruning3 or init",
        description="Reproduce a study of the papers. Each run is one JSON line in <out>/runs.jsonl; "
                    "rerunning skips the runs already there. The table (table.md) and figures are rebuilt "
                    "from every run on disk.")
    studies = parser.add_subparsers(dest="study", required=True, metavar="{" + ",".join(STUDIES) + "}")
    for name, study in STUDIES.items():
        sub = studies.add_parser(name, help=study.__doc__.strip().splitlines()[0],
                                 description=sys.modules[study.__module__].__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--quick", action="store_true",
                         help="a small version (subsets of the data, 2 epochs) that takes seconds")
        sub.add_argument("--out", type=output_folder, default=None,
                         help=f"output folder (default: results/{name}; with --quick: quick-results/{name})")
        sub.add_argument("--jobs", type=positive_int, default=1, help="runs trained in parallel processes (default: 1)")
        sub.add_argument("--scheduler", default=None, metavar="ADDRESS",
                         help="train the runs on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (needs the "
                              "'cluster' extra; the records come back here, into --out)")
        sub.add_argument("--data-dir", type=lambda text: str(data_folder(text)), default=None, metavar="DIR",
                         help="the folder holding mnist/, fashion-mnist/ and cifar10/ (default: $MINISPECTRAL_DATA, then the cache)")
        mode = sub.add_mutually_exclusive_group()
        mode.add_argument("--plan", action="store_true", help="print the runs to do and the estimated time; train nothing")
        mode.add_argument("--report-only", action="store_true",
                          help="train nothing; rebuild table.md and the figures from the runs on disk")
        for option in study.OPTIONS:
            option.add_to(sub)
        sub.set_defaults(handler=reproduce)
    return parser


def reproduce(args) -> int:
    study = STUDIES[args.study].from_args(args)
    out = args.out or Path("quick-results" if args.quick else "results") / args.study
    run_study(study, out, jobs=args.jobs, plan_only=args.plan, report_only=args.report_only,
              scheduler=args.scheduler)
    return 0
