"""Hostile inputs at every boundary: CLI options of every scenario, experiment spec fields.

Whatever hypothesis generates, a command ends with exit 0, or with exit 2 and exactly one
line on stderr: no traceback, no file outside the output folder, nothing partial in it, no
process left running. The default run keeps a few examples per scenario; the ``slow`` mark
runs the same properties with many more (``pytest -m slow tests/test_fuzz.py``).
Env actions are fuzzed beside the envs (``tests/envs/test_fuzz_actions.py``).
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarm.cli import main
from swarm.registry import SCENARIOS, scenario_class

# Command-line words that break things: signs, limits, non-numbers, JSON of every shape.
HOSTILE = [
    "0", "1", "2", "-1", "0.5", "-0.5", "3.7", "1e-300", "1e308", "-1e308", "1e400",
    "inf", "-inf", "nan", "999999999999", "-999999999999", "abc", "", "[]", "{}",
    "[1, 2]", '{"a": 1}', '{"eta": "x"}', '{"0": [1]}', "true", "false", "null",
    "../../etc/passwd", "/dev/null", "\x00", "ring", "torus", "box", "knn", "range", "fixed",
]  # fmt: skip
# Values that are valid for many fields but cheap to run (no huge teams or arenas).
MILD = ["1", "2", "3", "0.5", "5", "10.0", "0", "0.1"]
SCENARIO_NAMES = sorted(SCENARIOS)
STEPS = ["0", "1", "2", "-1", "x", "3"]


def _choices(annotation: Any) -> list[str]:
    """The allowed words of a Literal field (and of Literal inside an Optional)."""
    words = []
    for arg in get_args(annotation) or ():
        words += [str(a) for a in get_args(arg)] if get_args(arg) else [str(arg)]
    return [w for w in words if w not in ("None", "<class 'NoneType'>")]


@st.composite
def cli_invocation(draw: st.DrawFn, scenario: str) -> list[str]:
    """``swarm run SCENARIO`` with a random handful of its fields set to random words."""
    fields = scenario_class(scenario).config_class.model_fields
    names = draw(st.lists(st.sampled_from(sorted(fields)), max_size=4, unique=True))
    words = ["run", scenario, "--quiet", "--steps", draw(st.sampled_from(STEPS))]
    for name in names:
        pool = HOSTILE + MILD + _choices(fields[name].annotation)
        words += [f"--{name.replace('_', '-')}", draw(st.sampled_from(pool))]
    if draw(st.booleans()):
        words += ["--seed", draw(st.sampled_from(["0", "7", "-1", "x", "99999999999999999999"]))]
    if draw(st.booleans()):
        words += ["--agents", draw(st.sampled_from(["1", "4", "0", "-3", "10000000000000"]))]
    if draw(st.booleans()):
        words += ["--policy", draw(st.sampled_from(["boids", "pibt", "lloyd", "magic", ""]))]
    return words


def _call(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        return int(stop.code or 0)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def check_boundary(argv: list[str], tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run ``argv`` with ``--out tmp/out``; assert the boundary contract."""
    out = tmp / "out"
    before = _files(tmp)
    threads = _threads()
    capsys.readouterr()
    code = _call([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code in (0, 2), f"exit {code}: {argv}\n{err}"
    assert "Traceback" not in err, argv
    new = _files(tmp) - before
    assert all(p == out or out in p.parents for p in new), f"outside --out: {new}"
    if code == 2:
        assert err.count("\n") == 1 and err.strip(), f"not one line: {err!r} for {argv}"
        assert not new, f"partial output after an error: {new}"
    else:
        assert not [p for p in new if p.name.startswith(".")], "staging left behind"
    assert multiprocessing.active_children() == []
    assert _threads() <= threads


def _threads() -> set[str]:
    """Threads this program started (tqdm's one monitor thread is shared and lives on)."""
    return {t.name for t in threading.enumerate() if t.name != "tqdm_monitor"}


FUZZ = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
FUZZ_LONG = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def fuzz_cli(scenario: str, profile: settings, tmp_path_factory, capsys) -> None:
    @profile
    @given(argv=cli_invocation(scenario))
    def run(argv: list[str]) -> None:
        check_boundary(argv, tmp_path_factory.mktemp("cli"), capsys)

    run()


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_cli_options_of_every_scenario(scenario, tmp_path_factory, capsys):
    fuzz_cli(scenario, FUZZ, tmp_path_factory, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_cli_options_of_every_scenario_long(scenario, tmp_path_factory, capsys):
    fuzz_cli(scenario, FUZZ_LONG, tmp_path_factory, capsys)


# --------------------------------------------------------------------------- specs
SPEC_VALUES = [
    "0", "1", "3", "-1", "0.5", "inf", "nan", "1e308", "'x'", "''", "[]", "{}", "[1, 2]",
    "[0.5, 1.0]", "{ a = 1 }", "true", "'../../up'", "'flocking'", "'boids'", "'sweep'",
    "1000000000", "[[]]", "'polarization'",
]  # fmt: skip
SPEC_KEYS = [
    "name", "scenario", "policy", "steps", "seeds", "parameters.n_agents",
    "parameters.world_size", "parameters.dt", "parameters.sense_radius", "parameters.policy",
    "parameters.comm_model", "parameters.bogus", "faults.crash_rate", "faults.crash_fraction",
    "faults.crash_step", "faults.packet_drop", "faults.bogus", "sweep.points",
    "sweep.grid.n_agents", "sweep.grid.policy_params.eta", "sweep.grid.dt", "metrics.final",
    "metrics.time_series", "metrics.every", "metrics.tail", "metrics.rate", "plots",
]  # fmt: skip
BASE_SPEC = {
    "scenario": "'flocking'",
    "steps": "2",
    "seeds": "1",
    "parameters.n_agents": "5",
    "parameters.world_size": "5.0",
}


def _toml(entries: dict[str, str]) -> str:
    """Dotted keys -> TOML text (top-level keys first, then one table per section)."""
    top = {k: v for k, v in entries.items() if "." not in k}
    lines = [f"{k} = {v}" for k, v in top.items()]
    sections: dict[str, list[str]] = {}
    for key, value in entries.items():
        if "." in key:
            section, rest = key.split(".", 1)
            sections.setdefault(section, []).append(f"{rest} = {value}")
    for section, body in sections.items():
        lines += [f"[{section}]", *body]
    return "\n".join(lines) + "\n"


@st.composite
def spec_text(draw: st.DrawFn) -> str:
    entries = dict(BASE_SPEC)
    for key in draw(st.lists(st.sampled_from(SPEC_KEYS), max_size=4, unique=True)):
        entries[key] = draw(st.sampled_from(SPEC_VALUES))
    if "sweep.points" in entries and "sweep.grid.n_agents" not in entries:
        entries["sweep.points"] = draw(st.sampled_from([entries["sweep.points"],
                                                        "[{ n_agents = 3 }]"]))  # fmt: skip
    return _toml(entries)


def check_spec(text: str, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp / "spec.toml"
    spec.write_text(text)
    check_boundary(["run", str(spec), "--executor", "serial", "--no-plots", "--quiet"], tmp, capsys)


@FUZZ
@given(text=spec_text())
def test_spec_fields(text, tmp_path_factory, capsys):
    check_spec(text, tmp_path_factory.mktemp("spec"), capsys)


@pytest.mark.slow
@FUZZ_LONG
@given(text=spec_text())
def test_spec_fields_long(text, tmp_path_factory, capsys):
    check_spec(text, tmp_path_factory.mktemp("spec"), capsys)
