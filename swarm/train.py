"""``swarm train`` and ``swarm eval``: learn a shared policy, then set it beside a classic one.

::

    swarm train navigation --algo mappo --actor gnn --total-steps 200000 --num-envs 16 \\
        --seed 0 --out runs/nav-mappo
    swarm train navigation --trainer ddp --nproc 2 ...       # ranks started for you
    torchrun --nproc-per-node 8 -m swarm.train navigation --trainer ddp ...   # a cluster
    swarm train navigation ... --out runs/nav-mappo --resume  # continue from the checkpoint
    swarm eval navigation --policy runs/nav-mappo --against random_walk --episodes 8
    swarm eval navigation --policy runs/nav-mappo --episodes 30 --out evals/nav \\
        --marl-eval evals/nav-marl-eval.json   # per-seed rows, IQM + intervals, marl-eval
    swarm view navigation --policy runs/nav-mappo             # watch it (the viewer)

A scenario with teams trains one policy per team (self-play, :mod:`swarm.learn.teams`);
each team then plays from the run folder by name, against learned or classic opponents::

    swarm train pursuit --set shaping=1 --team-updates alternate --out runs/tag
    swarm eval pursuit --policy pursuers=runs/tag --policy pursuers=voronoi_pursuit \
        --policy evaders=runs/tag --policy evaders=flee --episodes 30   # every pairing
    swarm view pursuit --policy pursuers=runs/tag --policy evaders=flee

``python -m swarm.train`` takes the same arguments as ``swarm train`` (what torchrun runs).
Needs the ``learn`` extra (``pip install torch==2.13.0``); without it both commands say so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from swarm.config import ConfigError
from swarm.resources import check_new_file, check_writable


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: list[str] | None, option: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items or []:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"{option}: expected KEY=VALUE, got {item!r}")
        values[key.strip()] = _literal(raw)
    return values


def _require_torch(command: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{command}: needs torch, the 'learn' extra: pip install torch==2.13.0 "
            "(that exact version: other specs download several GB of CUDA builds)"
        ) from None


# --------------------------------------------------------------------------- train
def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="registered scenario (see `swarm list`) or module:factory")
    p.add_argument(
        "--algo",
        choices=["ippo", "mappo"],
        default="ippo",
        help="ippo: critic on the own observation; mappo: on the global state",
    )
    p.add_argument(
        "--actor",
        choices=["mlp", "gnn"],
        default="mlp",
        help="mlp: own observation; gnn: also messages from comm neighbours",
    )
    p.add_argument(
        "--trainer",
        default="local",
        help="plug-in of the swarm.trainers group: local, ddp, diloco, rllib, ...",
    )
    p.add_argument(
        "--nproc", type=int, default=1,
        help="ranks on this machine (ddp, diloco); Ray env runners (rllib)",
    )  # fmt: skip
    p.add_argument(
        "--total-steps",
        type=int,
        default=100_000,
        help="environment steps over all envs and ranks (default 100000)",
    )
    p.add_argument("--num-envs", type=int, default=16, help="environments, all ranks (16)")
    p.add_argument("--seed", type=int, default=0, help="the run's one seed (default 0)")
    p.add_argument("--out", help="run folder (default runs/train-SCENARIO-ALGO-seedS)")
    p.add_argument("--checkpoint-every", type=int, default=10, help="updates (default 10)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument(
        "--rollout-steps",
        type=int,
        help="steps per env per update (PPO's T; default: one episode, the env's max_cycles)",
    )
    p.add_argument("--lr", type=float, help="learning rate (default 3e-4)")
    p.add_argument("--hidden", type=int, default=64, help="hidden layer width (default 64)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="scenario config field, e.g. --set n_agents=3",
    )
    p.add_argument(
        "--ppo",
        action="append",
        metavar="KEY=VALUE",
        help="PPO setting, e.g. --ppo ent_coef=0.01 (see swarm.learn.ppo.PPOConfig)",
    )
    p.add_argument(
        "--diloco",
        action="append",
        metavar="KEY=VALUE",
        help="DiLoCo setting: inner_steps, outer_lr, outer_momentum, ...",
    )
    p.add_argument(
        "--team-updates",
        choices=["simultaneous", "alternate"],
        default="simultaneous",
        help="scenarios with teams (one policy each, self-play): every team learns from every "
        "rollout, or one team at a time while the others stay frozen",
    )
    p.add_argument(
        "--alternate-every", type=int, default=10,
        help="updates per team's turn with --team-updates alternate (default 10)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")  # fmt: skip


def job_from_args(args: argparse.Namespace) -> Any:
    from swarm.learn.loop import TrainJob

    ppo = _pairs(args.ppo, "--ppo")
    if args.rollout_steps is not None:
        ppo["rollout_steps"] = args.rollout_steps
    elif "rollout_steps" not in ppo and ":" not in args.scenario:
        # default: one whole episode per update (updates restart the envs, see swarm.learn.loop)
        from swarm.learn.evaluate import episode_length

        ppo["rollout_steps"] = episode_length(args.scenario, _pairs(args.set, "--set"))
    if args.lr is not None:
        ppo["learning_rate"] = args.lr
    out = args.out or str(
        Path("runs") / f"train-{args.scenario.replace(':', '-')}-{args.algo}-seed{args.seed}"
    )
    return TrainJob.build(
        "train",
        scenario=args.scenario, env_config=_pairs(args.set, "--set"), algo=args.algo,
        actor=args.actor, trainer=args.trainer, total_steps=args.total_steps,
        num_envs=args.num_envs, seed=args.seed, out=out,
        checkpoint_every=args.checkpoint_every, resume=args.resume, nproc=args.nproc,
        hidden=args.hidden, progress=not args.quiet, ppo=ppo,
        diloco=_pairs(args.diloco, "--diloco"), team_updates=args.team_updates,
        alternate_every=args.alternate_every,
    )  # fmt: skip


def cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    if "TORCHELASTIC_RUN_ID" in os.environ:  # a rank of an external torchrun: end with its agent
        from swarm.lifeline import die_with_parent

        die_with_parent()
    _require_torch("train")
    from swarm.learn.checkpoint import latest_checkpoint
    from swarm.learn.loop import updates_planned
    from swarm.learn.trainers import load_trainer

    job = job_from_args(args)
    updates_planned(job)  # rejects a run shorter than one update before anything starts
    trainer = load_trainer(job.trainer)
    if not job.resume and latest_checkpoint(Path(job.out) / "checkpoints") is not None:
        raise ConfigError(
            f"--out: {job.out} already holds a training run; add --resume to continue it "
            "or choose another --out"
        )
    out = Path(job.out)
    if not job.resume and "TORCHELASTIC_RUN_ID" not in os.environ:  # ranks share one folder
        check_writable(out)
        if out.is_dir() and any(out.iterdir()):
            raise ConfigError(
                f"--out: {out} already holds files ({', '.join(sorted(os.listdir(out))[:3])}); "
                "a training run starts in a new or empty folder: choose another --out"
            )
    summary = trainer.run(job)
    if _is_rank_zero():  # one report per run, also under torchrun
        ret = summary.get("final_episode_return")
        comm = summary.get("comm_bytes_per_rank")
        comm_note = f"; all-reduced {comm:,} bytes per rank" if comm else ""
        print(
            f"{job.scenario} {job.algo}/{job.actor} via {job.trainer} x{summary['ranks']}: "
            f"{summary['updates']} updates, {summary['env_steps']:,} env steps in "
            f"{summary['wall_time_s']:.1f} s ({(summary['env_steps_per_s'] or 0):,.0f} env "
            f"steps/s); last episode return {ret if ret is None else f'{ret:.4g}'}"
            f"{comm_note}\nresults: {job.out}"
        )
    return 0


def _is_rank_zero() -> bool:
    return os.environ.get("RANK", "0") == "0"  # torchrun sets RANK in every rank it starts


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train a shared policy with PPO (IPPO/MAPPO; MLP or GNN actor)",
        description="Train one policy shared by every agent with PPO; metrics per update in "
        "OUT/metrics.parquet, checkpoints in OUT/checkpoints/. Needs torch==2.13.0.",
    )
    add_train_arguments(p)
    p.set_defaults(handler=cmd_train)
    add_eval_parser(subparsers)
    return p


# --------------------------------------------------------------------------- eval
def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "eval",
        help="run a learned policy and a classic controller on the same seeds, side by side",
        description="Run a trained policy (a run folder or checkpoint) and a classic "
        "controller on the same seeds; print the scenario's metrics and the episode return "
        "of both.",
    )
    p.add_argument("scenario", help="registered scenario the policy was trained on")
    p.add_argument(
        "--policy",
        required=True,
        action="append",
        help="run folder or checkpoint file; in a scenario with teams TEAM=RUN_OR_NAME, "
        "repeatable (pursuers=runs/selfplay --policy pursuers=greedy_pursuit --policy "
        "evaders=flee): every pairing plays on the same seeds",
    )
    p.add_argument(
        "--against",
        action="append",
        help="controller(s) to compare with (see `swarm list`, or uniform_random); default: "
        "uniform_random and the scenario's default controller",
    )
    p.add_argument("--steps", type=int, help="steps per episode (default: the env's max_cycles)")
    p.add_argument("--episodes", type=int, default=4, help="episodes (seeds) each (default 4)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="scenario config field")
    p.add_argument(
        "--out",
        help="report folder: results.parquet and results.json (one row per controller or "
        "pairing x seed) and summary.json (mean, IQM, 95 %% bootstrap intervals); a new, "
        "empty or earlier report folder. A name ending in .csv or .parquet writes the "
        "per-seed table alone, to a new file",
    )
    p.add_argument(
        "--marl-eval",
        metavar="FILE",
        help="also export the per-seed results in marl-eval's JSON format (a new file)",
    )
    p.set_defaults(handler=cmd_eval)
    return p


def _check_eval_outputs(args: argparse.Namespace) -> None:
    """--out and --marl-eval, refused before any episode is played (nothing is
    overwritten that swarm eval did not write)."""
    from swarm.learn.report import check_marl_eval_file, check_report_dir, is_table_file

    if args.out:
        if is_table_file(args.out):
            check_new_file(args.out, "--out")
        else:
            check_report_dir(args.out, "--out")
    if args.marl_eval:
        check_marl_eval_file(args.marl_eval, args.out)


def _write_eval_outputs(
    args: argparse.Namespace, table: Any, by: list[str], summary: dict[str, Any] | None
) -> None:
    """The per-seed table (a .csv/.parquet --out), the report folder, the marl-eval file."""
    from swarm.io import write_table
    from swarm.learn.report import (
        estimator_line,
        is_table_file,
        marl_eval_document,
        summarize,
        write_new_json,
        write_report,
    )

    if args.out and is_table_file(args.out):
        write_table(Path(args.out), table)
    elif args.out:
        if summary is None:  # the cross-play table printed its own intervals
            summary = summarize(table, by)
            print(f"summary.json: means, interquartile means, {estimator_line(summary)}")
        from swarm.runner import package_version

        summary = {
            "scenario": args.scenario, "policy": args.policy, "against": args.against,
            "set": _pairs(args.set, "--set"), "steps": table.attrs.get("steps"),
            "package_version": package_version(), **summary,
        }  # fmt: skip
        print(f"results: {write_report(args.out, table, summary)}")
    if args.marl_eval:
        document, dropped = marl_eval_document(
            table, by, args.scenario, step_count=table.attrs.get("steps") or 0
        )
        write_new_json(args.marl_eval, document)
        left_out = f" (left out, NaN in some episode: {', '.join(dropped)})" if dropped else ""
        print(f"marl-eval: {args.marl_eval}{left_out}")


def cmd_eval(args: argparse.Namespace, extra: list[str]) -> int:
    _require_torch("eval")
    from swarm.learn.evaluate import compare, format_table
    from swarm.learn.report import estimator_line, summarize

    if args.episodes < 1:
        raise ConfigError(f"--episodes: must be >= 1 (got {args.episodes})")
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps: must be >= 1 (got {args.steps})")
    _check_eval_outputs(args)  # before the episodes are played
    if any("=" in value for value in args.policy):
        return _eval_teams(args)
    if len(args.policy) > 1:
        raise ConfigError(
            f"--policy: {args.scenario} takes one learned policy (TEAM=RUN, repeated, is for "
            "scenarios with teams)"
        )
    args.policy = args.policy[0]
    against = args.against or default_baselines(args.scenario)
    table = compare(
        args.scenario, Path(args.policy), against, args.episodes, args.seed,
        _pairs(args.set, "--set"), steps=args.steps,
    )  # fmt: skip
    summary = summarize(table, ["controller"])
    print(format_table(table, summary))
    print(f"cell: mean | interquartile mean [its interval]; {estimator_line(summary)}")
    _write_eval_outputs(args, table, ["controller"], summary)
    return 0


def _eval_teams(args: argparse.Namespace) -> int:
    """``swarm eval SCENARIO --policy TEAM=X ...``: the cross-play table of every pairing."""
    from swarm.learn.evaluate import crossplay, crossplay_summary
    from swarm.registry import scenario_class

    teams = list(getattr(scenario_class(args.scenario), "team_policy_fields", {}))
    if not teams:
        raise ConfigError(f"--policy: {args.scenario} has no teams; give one run folder")
    if args.against:
        raise ConfigError("--against: with teams, name every controller as --policy TEAM=NAME")
    choices: dict[str, list[str]] = {}
    for value in args.policy:
        team, eq, name = value.partition("=")
        if not eq or not name:
            raise ConfigError(f"--policy {value}: expected TEAM=RUN_OR_NAME; teams: "
                              f"{', '.join(teams)}")  # fmt: skip
        if name in choices.setdefault(team, []):
            raise ConfigError(f"--policy {value}: given twice")
        choices[team].append(name)
    table = crossplay(args.scenario, choices, args.episodes, args.seed,
                      _pairs(args.set, "--set"), steps=args.steps)  # fmt: skip
    columns = table.attrs["headline"]
    print(f"{args.scenario}: {args.episodes} episodes per pairing (seeds {args.seed}.."
          f"{args.seed + args.episodes - 1}); mean [95 % bootstrap interval]")  # fmt: skip
    print(crossplay_summary(table, teams, columns).to_string(index=False))
    _write_eval_outputs(args, table, teams, None)
    return 0


def default_baselines(scenario: str) -> list[str]:
    """uniform_random and the scenario's default controller (its config's ``policy``)."""
    from swarm.learn.evaluate import UNIFORM_RANDOM
    from swarm.registry import scenario_class

    default = scenario_class(scenario).config_class.model_fields["policy"].default
    return [UNIFORM_RANDOM, default]


# --------------------------------------------------------------------------- python -m
def main(argv: list[str] | None = None) -> int:
    """``python -m swarm.train ARGS`` == ``swarm train ARGS`` (what torchrun starts)."""
    from swarm.cli import main as cli_main

    return cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    exit_code = main()
    if "swarm.learn.trainers" in sys.modules:  # it trained, perhaps as a rank torchrun started
        from swarm.learn.trainers import leave_rank, under_torchrun

        if under_torchrun():
            leave_rank(exit_code)
    sys.exit(exit_code)
