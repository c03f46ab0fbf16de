"""Experiment specs: validation, sweep expansion, executors, resume, failures, report, CLI."""

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from swarm.cli import main
from swarm.config import ConfigError
from swarm.experiment import resume_command, run_experiment
from swarm.experiments.report import summary_table, t_interval
from swarm.experiments.spec import (
    apply_sets,
    expand_points,
    load_spec,
    parse_spec,
    parse_value,
    plan,
    resolve_config,
)
from swarm.experiments.store import ResultsStore
from swarm.experiments.worker import decay_rate

ROOT = Path(__file__).resolve().parents[2]

# A tiny Vicsek sweep: 3 noise values x 2 seeds, 20 drones, 30 steps (milliseconds per run).
TINY = """
name = "tiny"
scenario = "flocking"
policy = "vicsek"
steps = 30
seeds = 2

[parameters]
n_agents = 20
world_size = 3.0
sense_radius = 1.0
dt = 1.0
max_accel = inf
initial_speed = 0.03
policy_params = { speed = 0.03 }

[sweep]
grid.policy_params.eta = [0.5, 3.0, 6.0]

[metrics]
final = ["polarization", "n_alive"]
time_series = ["polarization"]
tail = 0.5

[[plots]]
kind = "sweep"
x = "policy_params.eta"
y = "tail_polarization"

[[plots]]
kind = "time"
y = "polarization"
"""


def write_spec(tmp_path: Path, text: str = TINY, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """A runs table without what legitimately differs between executions (wall time)."""
    return table.drop(columns=["wall_time_s"]).sort_values("run_id").reset_index(drop=True)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ({"stepz": 3}, "spec.stepz: unknown field; allowed: description, faults, metrics"),
        ({"steps": -1}, "spec.steps: Input should be greater than or equal to 0"),
        ({"seeds": 0}, "spec.seeds: a seed count must be in 1..100000"),
        ({"seeds": [1, 1]}, "spec.seeds: seeds must be distinct and >= 0"),
        ({"scenario": "teleport"}, "spec.scenario: unknown scenario; allowed: "),
        (
            {"policy": "magic"},
            "spec.policy: unknown policy; allowed: auction, average_consensus, boids",
        ),
        ({"metrics.tail": 2}, "spec.metrics.tail: Input should be less than or equal to 1"),
        (
            {"metrics.evry": 2},
            "spec.metrics.evry: unknown field; allowed: every, final, rate, tail",
        ),
        ({"plots": [{"kind": "pie", "y": "a"}]}, "spec.plots[0].kind: Input should be 'sweep'"),
        ({"sweep.grid.n_agents": 5}, "spec.sweep.grid.n_agents: Input should be a valid list"),
        ({"sweep.grid.n_agents": []}, "spec.sweep.grid: n_agents: a grid needs at least one"),
    ],
)
def test_spec_fields_are_validated_with_one_line_naming_the_field(sets, message):
    data = apply_sets(__import__("tomllib").loads(TINY), sets)
    with pytest.raises(ConfigError) as err:
        parse_spec(data)
    assert str(err.value).startswith(message)
    assert len(str(err.value).splitlines()) == 1


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            {"sweep.grid.policy_params.eta": [0.5, 9.0]},
            "spec.sweep.grid.policy_params.eta: Input should be less than or equal to 6.28",
        ),
        ({"sweep.grid.n_agentz": [3]}, "spec.sweep.grid.n_agentz: unknown field; allowed: "),
        (
            {"parameters.sense_radius": "far"},
            "spec.parameters.sense_radius: Input should be a valid number",
        ),
        (
            {"parameters.policy_params.etta": 1},
            "spec.parameters.policy_params.etta: unknown field; allowed: eta, speed",
        ),
        (
            {"sweep.points": [{"n_agents": 10}, {"n_agents": 0}]},
            "spec.sweep.points[1].n_agents: Input should be greater than or equal to 1",
        ),
        ({"faults.n_agents": 3}, "spec.faults.n_agents: not a fault of flocking; allowed: "),
        ({"faults.crash_rate": 1.5}, "spec.faults.crash_rate: Input should be less than or"),
        ({"faults.crash_fraction": 1.5}, "spec.faults.crash_fraction: must be a number in [0, 1]"),
        ({"faults.crash_step": 5}, "spec.faults.crash_step: needs crash_fraction"),
        ({"parameters.policy": "boids"}, "spec.parameters.policy: also set as spec.policy"),
        ({"metrics.final": ["speed"]}, "spec.metrics.final: unknown metric 'speed'; allowed: "),
        (
            {"sweep.points": [{"policy_params": {"eta": 1.0}}]},
            "spec.sweep.points[0].policy_params.eta: also in spec.sweep.grid",
        ),
        (
            {"plots": [{"kind": "sweep", "x": "n_agents", "y": "tail_polarization"}]},
            "spec.plots[0].x: 'n_agents' is not swept nor a column; allowed: policy_params.eta, ",
        ),
        (
            {"plots": [{"kind": "time", "y": "n_alive"}]},
            "spec.plots[0].y: 'n_alive' is not a kept time series; kept: polarization",
        ),
    ],
)
def test_every_run_is_validated_against_the_scenario_before_anything_runs(sets, message):
    spec = parse_spec(apply_sets(__import__("tomllib").loads(TINY), sets))
    with pytest.raises(ConfigError) as err:
        plan(spec)
    assert str(err.value).startswith(message), str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_bad_toml_and_missing_file_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_spec(write_spec(tmp_path, "steps = = 3"))
    with pytest.raises(ConfigError, match="no such file"):
        load_spec(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="--set: expected key=value"):
        load_spec(write_spec(tmp_path), ["steps"])


def test_cli_spec_error_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    code = main(["run", str(write_spec(tmp_path)), "--out", str(out), "--quiet",
                 "--set", "sweep.grid.policy_params.eta=[0.5, 9.0]"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.strip().splitlines() == [
        "swarm run: error: spec.sweep.grid.policy_params.eta: Input should be less than or "
        "equal to 6.283185307179586 (got 9.0)"
    ]
    assert main(["run", str(write_spec(tmp_path)), "--executor", "mpi"]) == 2
    assert "--executor: invalid choice: 'mpi'" in capsys.readouterr().err
    assert main(["run", str(write_spec(tmp_path)), "--agents", "5"]) == 2
    assert "use --set parameters.n_agents=VALUE" in capsys.readouterr().err
    assert main(["run", str(write_spec(tmp_path)), "--steps", "5"]) == 2
    assert "--steps: not used with a spec; use --set steps=VALUE" in capsys.readouterr().err
    assert main(["run", str(write_spec(tmp_path)), "--workers", "0", "--out", str(out)]) == 2
    assert "--workers: must be >= 1 (got 0)" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "body, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe garbage", "not UTF-8 text"),
        (b"name = 'x'\nscenario = 'flocking'\nsteps = 3\nseeds = 1000000000\n",
         "spec.seeds: a seed count must be in 1..100000"),
        (b"name = '../../escape'\nscenario = 'flocking'\nsteps = 3\nseeds = 1\n",
         "spec.name: letters, digits"),
        (b"scenario = 'flocking'\nsteps = 3\nseeds = 1\n[sweep]\npoints = []\n",
         "spec.sweep.points: an empty list"),
        (b"scenario = 'flocking'\nsteps = 3\nseeds = 1\n[parameters]\nworld_size = inf\n",
         "spec.parameters.world_size: Input should be a finite number"),
        (b"scenario = 'flocking'\nsteps = 3\nseeds = 10\n[sweep]\n"
         b"grid.n_agents = [" + b", ".join(b"%d" % i for i in range(1, 10_002)) + b"]\n",
         "spec: the sweep x seeds make 100,010 runs; at most 100,000"),
    ],
)  # fmt: skip
def test_hostile_specs_are_one_line_before_anything_is_written(tmp_path, capsys, body, message):
    path = tmp_path / "spec.toml"
    path.write_bytes(body)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]


def test_a_new_experiment_is_not_written_into_a_folder_holding_files(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(ConfigError, match=r"already holds files \(notes.txt\)"):
        run_experiment(load_spec(write_spec(tmp_path)), out, "serial", progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_resume_refuses_a_changed_spec_at_the_start_naming_the_change(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    out = tmp_path / "partial"
    run_experiment(spec, out, "serial", progress=False, limit=1, plots=False)
    before = sorted(p.name for p in (out / "runs").iterdir())
    changed = load_spec(write_spec(tmp_path), ["steps=40"])
    with pytest.raises(ConfigError, match=r"--resume: the spec differs .*steps: 30 -> 40"):
        run_experiment(changed, out, "serial", resume=True, progress=False)
    assert sorted(p.name for p in (out / "runs").iterdir()) == before


def test_the_interrupt_hint_repeats_every_override(tmp_path):
    command = resume_command("exp.toml", tmp_path / "o", ["steps=300", "parameters.dt=0.5"])
    assert (
        command == f"swarm run exp.toml --resume --out {tmp_path / 'o'} --set steps=300 "
        "--set parameters.dt=0.5"
    )


def _session(sid: int) -> list[int]:
    """Live processes of session ``sid`` (zombies are gone already, as far as work goes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if os.getsid(int(entry.name)) == sid and stat.rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
            except (OSError, IndexError):
                pass
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_workers_die_with_a_killed_driver(tmp_path):
    spec_path = write_spec(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarm.cli", "run", str(spec_path), "--out", str(tmp_path / "o"),
         "--workers", "2", "--quiet", "--no-plots", "--set", "steps=100000"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(_session(proc.pid)) < 3 and time.monotonic() < deadline:  # driver + 2 workers
            time.sleep(0.1)
        assert len(_session(proc.pid)) >= 3, "the workers never started"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 15
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session(proc.pid) == []
    finally:
        for pid in _session(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_ray_executor_without_ray_installed_is_one_clear_line(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    spec = load_spec(write_spec(tmp_path))
    with pytest.raises(ConfigError, match=r"^--executor ray: ray is not installed; pip install"):
        run_experiment(spec, tmp_path / "never", "ray", progress=False)
    assert not (tmp_path / "never").exists()


# --------------------------------------------------------------------------- sweep
def test_sweep_is_the_product_of_grid_and_points_with_the_grid_varying_fastest():
    spec = parse_spec(
        {
            "scenario": "flocking", "policy": "vicsek", "name": "s", "steps": 1, "seeds": [3, 5],
            "sweep": {"grid": {"policy_params": {"eta": [0.1, 0.2]}, "n_agents": [4, 5, 6]},
                      "points": [{"world_size": 10.0}, {"world_size": 20.0}]},
        }
    )  # fmt: skip
    points = expand_points(spec.sweep)
    assert len(points) == 2 * 2 * 3
    assert points[0] == {"world_size": 10.0, "policy_params.eta": 0.1, "n_agents": 4}
    assert points[1] == {"world_size": 10.0, "policy_params.eta": 0.1, "n_agents": 5}
    assert points[-1] == {"world_size": 20.0, "policy_params.eta": 0.2, "n_agents": 6}
    p = plan(spec)
    assert p.swept == ["world_size", "policy_params.eta", "n_agents"]
    assert len(p.tasks) == 12 * 2 and [t.seed for t in p.tasks[:4]] == [3, 5, 3, 5]
    assert len({t.run_id for t in p.tasks}) == 24
    task = p.tasks[-1]
    assert task.config["policy_params"] == {"eta": 0.2} and task.config["n_agents"] == 6


def test_quoted_and_nested_grid_keys_mean_the_same_and_set_overrides_them():
    quoted = {"sweep": {"grid": {"policy_params.eta": [1.0]}}}
    nested = {"sweep": {"grid": {"policy_params": {"eta": [1.0]}}}}
    assert apply_sets(quoted, {}) == apply_sets(nested, {})
    changed = apply_sets(quoted, ["sweep.grid.policy_params.eta=[0.5, 2]", "steps=7"])
    assert changed["sweep"]["grid"] == {"policy_params": {"eta": [0.5, 2]}}
    assert changed["steps"] == 7 and quoted["sweep"]["grid"] == {"policy_params.eta": [1.0]}


def test_set_values_are_toml_values_or_strings():
    assert parse_value("3") == 3 and parse_value("2.5") == 2.5
    assert parse_value("inf") == math.inf and parse_value("[1, 2]") == [1, 2]
    assert parse_value("{a = 1}") == {"a": 1} and parse_value("true") is True
    assert parse_value("vicsek") == "vicsek" and parse_value('"x y"') == "x y"


def test_seed_count_and_run_ids_are_stable_and_content_addressed(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    assert spec.seeds == [0, 1] and spec.name == "tiny"
    a = [t.run_id for t in plan(spec).tasks]
    assert a == [t.run_id for t in plan(load_spec(write_spec(tmp_path))).tasks]
    more = [t.run_id for t in plan(load_spec(write_spec(tmp_path), ["seeds=3"])).tasks]
    assert set(a) < set(more) and len(more) == 9  # extending the seeds keeps the old runs
    longer = [t.run_id for t in plan(load_spec(write_spec(tmp_path), ["steps=31"])).tasks]
    assert not set(a) & set(longer)


def test_crash_fraction_becomes_crash_at_a_seeded_random_subset(tmp_path):
    spec = load_spec(write_spec(tmp_path), ["faults.crash_fraction=0.25", "faults.crash_step=4"])
    configs = [resolve_config(spec, {}, seed) for seed in (0, 0, 1)]
    rows = [c["crash_at"][4] for c in configs]
    assert len(rows[0]) == 5 and rows[0] == rows[1] and rows[0] != rows[2]
    assert "crash_fraction" not in configs[0] and "crash_step" not in configs[0]


# --------------------------------------------------------------------------- running
@pytest.fixture(scope="module")
def serial_and_pool(tmp_path_factory):
    """The same spec (one point fails on purpose) run in process and on a 2-worker pool."""
    tmp = tmp_path_factory.mktemp("exec")
    spec = load_spec(write_spec(tmp), ["sweep.grid.policy_params.speed=[0.03, 0.05]"])
    # validation refuses a bad value before anything runs, so break the runs of one point
    # after planning: the worker meets an infinite speed, which the policy refuses
    the_plan = plan(spec)
    for i, task in enumerate(the_plan.tasks):
        if task.params["policy_params.speed"] == 0.05:
            broken = {**task.config, "policy_params": {**task.config["policy_params"],
                                                       "speed": math.inf}}  # fmt: skip
            the_plan.tasks[i] = dataclasses.replace(task, config=broken)
    serial = run_experiment(the_plan, tmp / "serial", "serial", progress=False)
    pool = run_experiment(the_plan, tmp / "pool", "local", workers=2, progress=False)
    return spec, serial, pool


def test_process_pool_gives_the_same_results_as_a_serial_run(serial_and_pool):
    _, serial, pool = serial_and_pool
    pd.testing.assert_frame_equal(comparable(serial.table), comparable(pool.table))
    for run_id in serial.table.loc[serial.table["status"] == "ok", "run_id"]:
        a = ResultsStore(serial.out).series(run_id)
        b = ResultsStore(pool.out).series(run_id)
        pd.testing.assert_frame_equal(a, b)
        assert len(a) == 31 and list(a.columns) == ["step", "polarization"]


def test_a_failing_run_is_recorded_and_the_others_finish(serial_and_pool):
    _, _, pool = serial_and_pool
    table = pd.read_parquet(pool.out / "runs.parquet")
    assert len(table) == 3 * 2 * 2 and pool.failed == 6 and pool.ran == 12
    failed = table[table["status"] == "failed"]
    assert (failed["policy_params.speed"] == 0.05).all()
    assert failed["error"].str.contains("ConfigError: .*speed.*finite").all()
    ok = table[table["status"] == "ok"]
    assert len(ok) == 6 and (ok["policy_params.speed"] == 0.03).all()
    assert ok["final_n_alive"].eq(20).all() and ok["tail_polarization"].between(0, 1).all()
    record = json.loads((pool.out / "runs" / failed["run_id"].iloc[0] / "run.json").read_text())
    assert record["status"] == "failed" and "Traceback" in record["traceback"]
    assert not (pool.out / "runs" / failed["run_id"].iloc[0] / "metrics.parquet").exists()


def test_results_folder_layout(serial_and_pool):
    _, serial, _ = serial_and_pool
    meta = json.loads((serial.out / "spec.json").read_text())
    assert meta["spec"]["parameters"]["max_accel"] == "inf"  # JSON has no infinity
    assert meta["swept"] == ["policy_params.eta", "policy_params.speed"]
    assert {p.name for p in (serial.out / "plots").iterdir()} == {
        "tail_polarization_vs_policy_params.eta.png",
        "polarization_over_time.png",
    }
    assert (serial.out / "plots" / "polarization_over_time.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in (serial.out / "runs").iterdir() if p.name.startswith(".")]
    summary = pd.read_csv(serial.out / "summary.csv")
    assert len(summary) == 6 and set(summary["n"]) == {0, 2}


def test_resume_after_a_partial_run_loses_nothing_and_repeats_nothing(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    reference = run_experiment(spec, tmp_path / "ref", "serial", progress=False, plots=False)
    out = tmp_path / "partial"
    first = run_experiment(spec, out, "serial", progress=False, limit=2, plots=False)
    assert first.ran == 2 and (first.table["status"] == "pending").sum() == 4
    with pytest.raises(ConfigError, match="already holds an experiment; pass --resume"):
        run_experiment(spec, out, "serial", progress=False)
    done_before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    second = run_experiment(spec, out, "serial", resume=True, progress=False, plots=False)
    assert second.skipped == 2 and second.ran == 4
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()
            if p.name in done_before} == done_before  # fmt: skip
    pd.testing.assert_frame_equal(comparable(second.table), comparable(reference.table))
    third = run_experiment(spec, out, "serial", resume=True, progress=False, plots=False)
    assert third.ran == 0 and third.skipped == 6


def test_resume_after_the_process_is_killed_mid_experiment(tmp_path):
    spec_path = write_spec(tmp_path)
    sets = ["--set", "steps=150", "--set", "seeds=3"]  # 9 runs, long enough to kill mid-way
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarm.cli", "run", str(spec_path), "--out", str(out),
         "--executor", "serial", "--quiet", "--no-plots", *sets],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = list((out / "runs").glob("*/run.json")) if (out / "runs").exists() else []
        if len(done) >= 2:
            break
        assert proc.poll() is None, "the experiment finished before it could be killed"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p.parent.name for p in (out / "runs").glob("*/run.json")}
    assert 2 <= len(done_before) < 9
    spec = load_spec(spec_path, [s for s in sets if s != "--set"])
    resumed = run_experiment(spec, out, "serial", resume=True, progress=False, plots=False)
    assert resumed.skipped == len(done_before) and resumed.ran == 9 - len(done_before)
    reference = run_experiment(spec, tmp_path / "ref", "serial", progress=False, plots=False)
    pd.testing.assert_frame_equal(comparable(resumed.table), comparable(reference.table))
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------- report
def test_decay_rate_recovers_a_geometric_series_down_to_round_off():
    k = np.arange(400)
    assert decay_rate(3.0 * 0.93**k) == pytest.approx(0.93, rel=1e-9)
    noisy = np.maximum(0.5**k, 1e-300)  # hits the float floor after ~35 steps
    assert decay_rate(noisy) == pytest.approx(0.5, rel=1e-6)
    assert math.isnan(decay_rate(np.zeros(10))) and math.isnan(decay_rate(np.array([1.0])))


def test_t_interval_matches_scipy_and_degenerate_cases():
    values = np.array([0.2, 0.4, 0.5, 0.9])
    mean, low, high = t_interval(values, 0.95)
    half = stats.t.ppf(0.975, 3) * values.std(ddof=1) / 2.0
    assert mean == pytest.approx(0.5) and (low, high) == pytest.approx((0.5 - half, 0.5 + half))
    assert t_interval(np.array([0.3]))[0] == 0.3 and math.isnan(t_interval(np.array([0.3]))[1])
    assert t_interval(np.array([0.3, 0.3])) == (0.3, 0.3, 0.3)


def test_summary_groups_runs_by_point_and_ignores_failed_ones():
    table = pd.DataFrame(
        {
            "point": [0, 0, 0, 1, 1],
            "eta": [0.5, 0.5, 0.5, 2.0, 2.0],
            "status": ["ok", "ok", "failed", "ok", "ok"],
            "final_x": [1.0, 3.0, np.nan, 5.0, 5.0],
        }
    )
    summary = summary_table(table, ["eta"], ["final_x"])
    assert summary["n"].tolist() == [2, 2] and summary["failed"].tolist() == [1, 0]
    assert summary["final_x_mean"].tolist() == [2.0, 5.0]
    assert summary["final_x_high"].iloc[0] == pytest.approx(2.0 + stats.t.ppf(0.975, 1) * 1.0)


def test_cli_run_then_report(tmp_path, capsys):
    spec_path = write_spec(tmp_path)
    out = tmp_path / "cli"
    assert main(["run", str(spec_path), "--out", str(out), "--quiet", "--executor", "serial"]) == 0
    printed = capsys.readouterr().out
    assert "tiny: 6/6 runs ok (6 ran now, 0 already done, 0 failed)" in printed
    assert "tail_polarization" in printed and "policy_params.eta" in printed
    (out / "plots" / "polarization_over_time.png").unlink()
    assert main(["report", str(out), "--columns", "final_n_alive,tail_polarization"]) == 0
    printed = capsys.readouterr().out
    assert "20 ± 0" in printed and "plot: " in printed
    assert (out / "plots" / "polarization_over_time.png").exists()
    assert main(["report", str(out), "--columns", "speed"]) == 2
    assert "report --columns: unknown speed" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert main(["run", str(spec_path), "--out", str(out), "--quiet", "--resume"]) == 0
    assert "(0 ran now, 6 already done, 0 failed)" in capsys.readouterr().out


def _compile_fresh_kernel(value: int) -> tuple[int, int]:
    """Compiles a kernel no cache holds, in the worker: numba reads its config again."""
    import numba

    return numba.njit(lambda x: x + 1)(value), numba.get_num_threads()


def test_a_worker_can_compile_kernels() -> None:
    """Regression: a spawned worker set NUMBA_NUM_THREADS after numba had read it, so the
    first kernel compiled in a worker (none cached: a fresh machine) failed every run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from swarm.experiments.worker import init_worker

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=init_worker,
                             initargs=(os.getpid(),)) as pool:  # fmt: skip
        assert pool.submit(_compile_fresh_kernel, 41).result(timeout=120) == (42, 1)
