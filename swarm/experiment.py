"""Run an experiment spec (``swarm run experiments/NAME.toml``) and report on its folder.

::

    swarm run experiments/vicsek_phase_transition.toml            # local process pool
    swarm run SPEC.toml --set steps=200 --set seeds=2             # dotted keys override fields
    swarm run SPEC.toml --executor ray [--address ray://HOST:10001]
    swarm run SPEC.toml --resume --out runs/vicsek_phase_transition   # after Ctrl-C or a kill
    swarm report runs/vicsek_phase_transition                     # table + plots again

The whole spec is validated, every run's config included, before a worker starts. Runs
execute in any order on any executor; each one's output is written atomically as it
finishes (see :mod:`swarm.experiments.store`), so an interrupted experiment resumes with
``--resume`` and loses nothing. The pieces live in :mod:`swarm.experiments`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
from tqdm.auto import tqdm

from swarm.config import ConfigError
from swarm.experiments.executors import EXECUTORS, check_executor, make_executor
from swarm.experiments.load import load_spec
from swarm.experiments.plan import Plan, plan
from swarm.experiments.report import CONFIDENCE, report
from swarm.experiments.schema import ExperimentSpec
from swarm.experiments.store import ResultsStore

__all__ = [
    "ExperimentResult",
    "add_report_parser",
    "load_spec",
    "plan",
    "report",
    "run_experiment",
    "run_spec_cli",
]


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` did: the folder, its table, and this call's counts."""

    out: Path
    table: pd.DataFrame  # runs.parquet
    ran: int  # runs executed by this call
    skipped: int  # runs already finished (resume)
    failed: int  # runs that raised (recorded in the table)
    notes: list[str]
    plots: list[Path]  # PNG files drawn


def default_out(spec: ExperimentSpec) -> Path:
    return Path("runs") / spec.name


def run_experiment(
    spec: ExperimentSpec | Plan,
    out: str | Path | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    progress: bool = True,
    plots: bool = True,
    limit: int | None = None,
) -> ExperimentResult:
    """Run every unfinished run of ``spec`` and write the results folder.

    ``limit`` stops after that many runs (a partial experiment that ``resume`` completes).
    """
    the_plan = spec if isinstance(spec, Plan) else plan(spec)
    check_executor(executor, workers, address)
    store = ResultsStore(out if out is not None else default_out(the_plan.spec))
    notes = store.prepare(the_plan, resume)
    todo = [t for t in the_plan.tasks if not store.is_done(t.run_id)]
    skipped = len(the_plan.tasks) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    by_id = {t.run_id: t for t in todo}
    ran = failed = 0
    bar = tqdm(
        total=len(the_plan.tasks), initial=skipped, desc=the_plan.spec.name, unit="run",
        disable=not progress, dynamic_ncols=True,
    )  # fmt: skip
    pool = make_executor(executor, workers, address) if todo else None
    finished = False
    try:
        for outcome in pool.run(todo) if pool is not None else ():
            store.write_run(by_id[outcome.run_id], outcome)
            ran += 1
            if outcome.status != "ok":
                failed += 1
                bar.set_postfix(failed=failed)
            bar.update(1)
        finished = True
    finally:
        if pool is not None:
            pool.close(abort=not finished)
        bar.close()
        table = store.write_table(the_plan)  # also on Ctrl-C: pending rows say what is left
    files: list[Path] = []
    if plots and the_plan.spec.plots and (table["status"] == "ok").any():
        files = report(store.root, plots=True)[2]
    return ExperimentResult(store.root, table, ran, skipped, failed, notes, files)


# --------------------------------------------------------------------------- CLI
class _Parser(argparse.ArgumentParser):
    """Errors in the spec options are one line (ConfigError), like every other CLI error."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _spec_options() -> argparse.ArgumentParser:
    parser = _Parser(prog="swarm run SPEC.toml", add_help=False)
    parser.add_argument("--executor", choices=EXECUTORS, default="local")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--address", default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-plots", action="store_true")
    return parser


def resume_command(target: str, out: Path, sets: list[str]) -> str:
    """The command that continues this experiment: every ``--set`` repeated, shell-quoted."""
    words = ["swarm", "run", target, "--resume", "--out", str(out)]
    for pair in sets:
        words += ["--set", pair]
    return shlex.join(words)


def run_spec_cli(args: argparse.Namespace, extra: list[str]) -> int:
    """``swarm run SPEC.toml [--executor local|serial|ray] [--workers N] [--address ADDR]
    [--resume] [--out DIR] [--set key=value ...] [--quiet] [--no-plots]``."""
    options, unknown = _spec_options().parse_known_args(extra)
    if unknown:
        raise ConfigError(
            f"run {args.target}: unknown option {unknown[0]}; allowed with a spec: --executor, "
            "--workers, --address, --resume, --out, --set, --quiet, --no-plots"
        )
    # the scenario options of `swarm run` have spec fields instead (their defaults: unused)
    for name, default, hint in (
        ("agents", None, "parameters.n_agents"),
        ("policy", None, "policy"),
        ("steps", 500, "steps"),
        ("seed", 0, "seeds"),
        ("format", "parquet", "metrics.time_series"),
    ):
        if getattr(args, name, default) != default:
            raise ConfigError(f"--{name}: not used with a spec; use --set {hint}=VALUE")
    spec = load_spec(args.target, args.set or [])
    the_plan = plan(spec)  # every run validated before anything is written
    out = Path(args.out) if args.out else default_out(spec)
    try:
        result = run_experiment(
            the_plan, out, options.executor, options.workers, options.address,
            options.resume, progress=not args.quiet, plots=not options.no_plots,
        )  # fmt: skip
    except KeyboardInterrupt:
        print(
            f"swarm run: interrupted; finished runs are saved in {out}; continue with: "
            f"{resume_command(args.target, out, args.set or [])}",
            file=sys.stderr,
        )
        return 130
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(report(result.out, plots=False)[0])
    for path in result.plots:
        print(f"plot: {path}")
    ok = int((result.table["status"] == "ok").sum())
    print(
        f"{spec.name}: {ok}/{len(result.table)} runs ok ({result.ran} ran now, "
        f"{result.skipped} already done, {result.failed} failed); results: {result.out}"
    )
    if result.failed:
        errors = result.table.loc[result.table["status"] == "failed", "error"].dropna().unique()
        for error in errors[:5]:
            print(f"  failed: {error}", file=sys.stderr)
    return 1 if result.failed else 0


def cmd_report(args: argparse.Namespace, extra: list[str]) -> int:
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    if not 0 < args.confidence < 1:
        raise ConfigError(f"--confidence: must be in (0, 1) (got {args.confidence})")
    text, _, files = report(args.dir, columns, args.confidence, plots=not args.no_plots)
    print(text)
    for path in files:
        print(f"plot: {path}")
    return 0


def add_report_parser(subparsers: Any) -> None:
    """Add ``swarm report DIR`` to the ``swarm`` command line."""
    parser = subparsers.add_parser(
        "report",
        help="summarise an experiment folder (mean and CI over seeds) and redraw its plots",
    )
    parser.add_argument("dir", help="experiment results folder (what `swarm run SPEC` wrote)")
    parser.add_argument(
        "--columns", help="comma-separated runs.parquet columns (default: the plotted ones)"
    )
    parser.add_argument(
        "--confidence", type=float, default=CONFIDENCE, help="confidence level (default 0.95)"
    )
    parser.add_argument("--no-plots", action="store_true", help="print the table only")
    parser.set_defaults(handler=cmd_report)
