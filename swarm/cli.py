"""The ``swarm`` command line: run, list, bench (and view, train, report as they exist).

``swarm run SCENARIO`` accepts the generic options below plus one ``--field-name VALUE``
option per field of the scenario's config class (``--sense-radius 3``), generated from the
typed config, so the CLI can never drift from what the model accepts. Any bad option or value
prints one line naming it and what is allowed, exits with code 2, and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from swarm.config import ConfigError
from swarm.resources import check_writable
from swarm.testing import LocalityViolation


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _literal(text: str) -> Any:
    """Command-line value: JSON when it parses (numbers, true, lists, {...}), else a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_field_options(tokens: list[str], fields: dict[str, str], where: str) -> dict[str, Any]:
    """``--field-name value`` tokens -> {field_name: value}, rejecting unknown names."""
    values: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--"):
            raise ConfigError(f"{where}: unexpected argument {token!r}")
        name, eq, inline = token[2:].partition("=")
        field = name.replace("-", "_")
        if field not in fields:
            allowed = ", ".join("--" + f.replace("_", "-") for f in sorted(fields))
            raise ConfigError(f"{where}: unknown option --{name}; allowed: {allowed}")
        if eq:
            values[field] = _literal(inline)
            i += 1
        elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            values[field] = _literal(tokens[i + 1])
            i += 2
        else:  # a bare flag
            values[field] = True
            i += 1
    return values


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise ConfigError(f"--set: expected key=value, got {pair!r}")
        values[key.strip()] = _literal(raw)
    return values


def _scenario_config(
    scenario: str, extra: list[str], sets: list[str] | None, agents: int | None, command: str
) -> dict[str, Any]:
    """Config overrides from a command line: the scenario's fields as options
    (``--sense-radius 3``), then ``--set KEY=VALUE``, then ``--agents``."""
    from swarm.registry import scenario_class

    fields = scenario_class(scenario).config_class.field_help()
    config = _parse_field_options(extra, fields, f"{command} {scenario}")
    config.update(_parse_sets(sets or []))
    if agents is not None:
        config["n_agents"] = agents
    return config


def _default_out(scenario: str, seed: int) -> Path:
    return Path("runs") / f"{scenario}-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    from swarm import runner
    from swarm.registry import model_maker, scenario_class
    from swarm.threads import set_threads

    target = args.target
    if target is None:
        if args.help:
            print(args.parser.format_help().rstrip())
            return 0
        raise ConfigError("run: name a scenario (see `swarm list`) or an experiment spec .toml")
    # the calling process's threads (a spec's serial executor too; pool and Ray workers
    # run one thread each, swarm.experiments.worker)
    set_threads(args.threads)
    if target.endswith(".toml"):
        try:
            from swarm.experiment import run_spec_cli
        except ImportError:
            raise ConfigError("run: experiment specs (.toml) are not supported yet") from None
        return run_spec_cli(args, extra)
    cls = scenario_class(target)
    if args.help:
        print(_scenario_help(args.parser, target, cls))
        return 0
    config = _scenario_config(target, extra, args.set, args.agents, "run")
    if args.steps < 0:
        raise ConfigError(f"--steps: must be >= 0 (got {args.steps})")
    if args.audit < 0:
        raise ConfigError(f"--audit: agents to audit per step must be >= 0 (got {args.audit})")
    runner.check_seed(args.seed)
    out = Path(args.out) if args.out else _default_out(target, args.seed)
    check_writable(out)  # before building: a map or a large team takes a while to set up
    # validates every value; a --policy may also be a learned run (per team: TEAM=RUN)
    model = model_maker(target, args.policy, config)(args.seed)
    runner.check_out(out, runner.resolved_config(model, target, args.steps, args.seed), args.format)
    result = runner.execute(
        model, target, args.steps, args.seed, progress=not args.quiet, audit=args.audit
    )
    runner.write_run(result, out, args.format)
    s = result.summary
    if args.audit:
        print(f"{target}: audited {s['audited_agent_steps']:,} agent-steps: local")
    final = ", ".join(f"{k}={v:.4g}" for k, v in s["final"].items())
    print(
        f"{target}: {s['n_agents']} agents x {s['steps']} steps in {s['wall_time_s']:.2f} s "
        f"({s['agent_steps_per_s'] or 0:,.0f} agent-steps/s); {final}\nresults: {out}"
    )
    return 0


def _scenario_help(parser: argparse.ArgumentParser, target: str, cls: Any) -> str:
    """``swarm run SCENARIO --help``: the generic options, then the scenario's own fields."""
    lines = [parser.format_help().rstrip(), "", f"{target} options (fields of its config):"]
    for name, field in cls.config_class.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "" if default is None else f" (default {_shown(default)})"
        lines.append(f"  --{name.replace('_', '-'):<24} {field.description or ''}{shown}")
    return "\n".join(lines)


def _shown(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    text = json.dumps(value, default=repr) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def cmd_audit(args: argparse.Namespace, extra: list[str]) -> int:
    """``swarm audit SCENARIO --policy NAME``: one line, exit 0 if local, 1 if not."""
    from swarm import runner
    from swarm.registry import model_maker, scenario_class
    from swarm.testing import auditor_for

    cls = scenario_class(args.scenario)
    config = _parse_field_options(extra, cls.config_class.field_help(), f"audit {args.scenario}")
    config["n_agents"] = args.agents
    for name in ("agents", "steps"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name}: must be >= 1 (got {getattr(args, name)})")
    if args.sample is not None and args.sample < 1:
        raise ConfigError(f"--sample: must be >= 1 (got {args.sample})")
    runner.check_seed(args.seed)
    # controllers by name, a training run's policy, or per team (TEAM=NAME or TEAM=RUN)
    model = model_maker(args.scenario, args.policy, config)(args.seed)
    auditor = auditor_for(model, args.sample, args.seed)
    for _ in range(args.steps):
        auditor.step()
    print(
        f"{auditor.name} is local on {args.scenario}: {auditor.checked:,} agent-steps, each "
        "decided alone exactly as in the batch (actions, every message round, state, memory)"
    )
    return 0


def cmd_list(args: argparse.Namespace, extra: list[str]) -> int:
    from swarm.registry import POLICIES, SCENARIOS, policy_class, scenario_class

    print("scenarios:")
    for name in sorted(SCENARIOS):
        doc = (scenario_class(name).__module__, scenario_class(name).__doc__ or "")
        print(f"  {name:<18} {_first_line(sys.modules[doc[0]].__doc__ or doc[1])}")
    print("policies [the scenarios they run in]:")
    for name in sorted(POLICIES):
        cls = policy_class(name)
        runs_in = ", ".join(cls.scenarios) if cls.scenarios else "any drone scenario"
        summary = _first_line(sys.modules[cls.__module__].__doc__ or "")
        print(f"  {name:<18} [{runs_in}] {summary}")
    return 0


def _first_line(text: str) -> str:
    """The docstring's first sentence, on one line."""
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    sentence, dot, _ = paragraph.partition(". ")
    return sentence + ("." if dot else "")


def cmd_bench(args: argparse.Namespace, extra: list[str]) -> int:
    from swarm.bench import main as bench_main

    return bench_main(args)


def cmd_web(args: argparse.Namespace, extra: list[str]) -> int:
    """``swarm web SCENARIO``: the scenario in the browser, on Mesa's SolaraViz."""
    from swarm import runner
    from swarm.registry import model_maker

    try:
        import swarm.web.app  # noqa: F401 - solara and Mesa's SolaraViz, before anything else
    except ImportError as err:
        needed = err.name or "solara"
        raise ConfigError(f'web: needs {needed} (pip install -e ".[web]")') from None
    from swarm.web.server import serve

    config = _scenario_config(args.scenario, extra, args.set, args.agents, "web")
    runner.check_seed(args.seed)
    if not 200 <= args.size <= 2000:
        raise ConfigError(f"--size: must be between 200 and 2000 pixels (got {args.size})")
    model_maker(args.scenario, args.policy, dict(config))(args.seed)  # every value checked
    spec = {"scenario": args.scenario, "policies": args.policy, "config": config,
            "seed": args.seed, "width": args.size}  # fmt: skip
    return serve(spec, args.host, args.port)


def one_line(err: Exception) -> str:
    """An error as one line: its first problem, and how many more there are (fix one, rerun)."""
    lines = [line for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return lines[0] + more


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="swarm", description="Decentralised swarm sandbox.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run",
        add_help=False,
        help="run a scenario (or an experiment spec .toml) headless",
        description="Run a scenario headless. Scenario fields are options too: "
        "--field-name VALUE (`swarm run SCENARIO --help` lists them).",
        epilog="--out never deletes or moves a file: it takes a new folder, an empty one, or a "
        "finished run of the same config (rewritten); any other existing folder is refused "
        "before the run starts. With an experiment spec (experiments/NAME.toml): --executor "
        "local|serial|ray, --workers N, --address ADDR (Ray), --resume (the same spec and --set "
        "options only), --no-plots, --out DIR (new or empty), and --set key=value to override "
        "any spec field (dotted keys, e.g. --set seeds=3).",
    )
    run.add_argument("-h", "--help", action="store_true", help="show this help (and the "
                     "scenario's own options when a scenario is named)")  # fmt: skip
    run.add_argument(
        "target", nargs="?", help="scenario name (see `swarm list`) or experiments/NAME.toml"
    )
    run.add_argument("--agents", type=int, help="number of agents (n_agents)")
    run.add_argument("--steps", type=int, default=500, help="steps to run (default 500)")
    run.add_argument("--seed", type=int, default=0, help="the run's one seed (default 0)")
    run.add_argument("--policy", action="append", metavar="[TEAM=]NAME",
                     help="controller (see `swarm list`); per team: --policy pursuers=NAME "
                     "--policy evaders=NAME")  # fmt: skip
    run.add_argument("--out", help="results folder (default runs/SCENARIO-seedS-TIME)")
    run.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="set a config field")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--threads", type=int, help="threads of the compiled kernels (default: "
                     "every core; the results are the same on any count)")  # fmt: skip
    run.add_argument(
        "--audit", type=int, default=0, metavar="K",
        help="check K random agents per step with the locality audit (`swarm audit`); the "
        "run stops with one line on the first violation (exit 1)",
    )  # fmt: skip
    run.set_defaults(handler=cmd_run, parser=run)

    audit = sub.add_parser(
        "audit",
        help="check a controller's locality: each agent decides alone as in the batch",
        description="Run SCENARIO and evaluate every agent (or --sample K per step) on its "
        "own observation alone; exit 0 if every decision equals the batch's, bit for bit, "
        "else exit 1 with one line naming the step, agent and what differed. Scenario "
        "fields are options too (--sense-radius 3).",
    )
    audit.add_argument("scenario", help="scenario name (see `swarm list`)")
    audit.add_argument(
        "--policy", action="append", metavar="[TEAM=]NAME",
        help="controller name, or a training run folder / checkpoint (learned); per team: "
        "--policy pursuers=NAME --policy evaders=NAME",
    )  # fmt: skip
    audit.add_argument("--agents", type=int, default=40, help="number of agents (default 40)")
    audit.add_argument("--steps", type=int, default=20, help="steps to audit (default 20)")
    audit.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    audit.add_argument("--sample", type=int, help="agents audited per step (default all)")
    audit.set_defaults(handler=cmd_audit)

    lst = sub.add_parser("list", help="list scenarios and policies")
    lst.set_defaults(handler=cmd_list)

    bench = sub.add_parser("bench", help="measure speed and memory against Mesa's boid_flockers")
    from swarm.bench import add_arguments

    add_arguments(bench)
    bench.set_defaults(handler=cmd_bench)

    web = sub.add_parser(
        "web",
        help="watch a scenario in the browser (Mesa's SolaraViz; needs the web extra)",
        description="Serve a page (solara) showing SCENARIO: the swarm, play/pause/step/reset, "
        "speed, the typed config as validated inputs, live metric plots, and a click on an "
        "agent shows its local observation and inbox. Prints the address to open.",
    )
    web.add_argument("scenario", help="scenario name (see `swarm list`)")
    web.add_argument("--agents", type=int, help="number of agents (n_agents)")
    web.add_argument("--policy", action="append", metavar="[TEAM=]NAME",
                     help="controller (see `swarm list`); per team: TEAM=NAME")  # fmt: skip
    web.add_argument("--seed", type=int, default=0, help="the run's one seed (default 0)")
    web.add_argument("--set", action="append", metavar="KEY=VALUE", help="set a config field")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                     "127.0.0.1: this machine only)")  # fmt: skip
    web.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    web.add_argument("--size", type=int, default=720, help="picture size in pixels (default 720)")
    web.set_defaults(handler=cmd_web)

    for module, adder in (
        ("swarm.viewer.cli", "add_view_parser"),
        ("swarm.experiment", "add_report_parser"),
        ("swarm.train", "add_train_parser"),
    ):
        try:
            mod = __import__(module, fromlist=[adder])
        except ImportError:
            continue
        getattr(mod, adder)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from swarm.threads import small_pages

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("run", "audit", "web"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    small_pages()  # the program's own process: see swarm.threads.small_pages
    try:
        return int(args.handler(args, extra) or 0)
    except ConfigError as err:
        print(f"swarm {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except LocalityViolation as err:
        print(f"swarm {args.command}: {one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return _interrupted(args.command)
    except BrokenPipeError:  # the reader left (`| head`): whatever was written stays written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # 128 + SIGPIPE, as a shell reports it
    except SystemError as err:  # Ctrl-C inside a compiled kernel arrives wrapped in this
        if not _caused_by_interrupt(err):
            raise
        return _interrupted(args.command)


def _interrupted(command: str) -> int:
    print(f"swarm {command}: interrupted; nothing partial was written", file=sys.stderr)
    return 130


def _caused_by_interrupt(err: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is in ``err``'s chain of causes (numba re-raises an
    interrupt caught inside a compiled call as a SystemError caused by it)."""
    seen = 0
    while err is not None and seen < 16:
        if isinstance(err, KeyboardInterrupt):
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


if __name__ == "__main__":
    sys.exit(main())
