"""The command line: a run writes its results; bad input is one line, exit 2, nothing written."""

import json
import os

import pandas as pd
import pytest

from swarm.cli import main


def test_run_writes_metrics_config_and_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(
        ["run", "flocking", "--agents", "50", "--steps", "20", "--seed", "3", "--policy",
         "vicsek", "--out", str(out), "--quiet", "--sense-radius", "4", "--set", "packet_drop=0.1"]
    )  # fmt: skip
    assert code == 0
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert len(metrics) == 21 and metrics["step"].tolist() == list(range(21))
    assert {"polarization", "cohesion", "n_components"} <= set(metrics.columns)
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 3 and config["config"]["n_agents"] == 50
    assert config["config"]["sense_radius"] == 4 and config["config"]["packet_drop"] == 0.1
    assert config["config"]["policy"] == "vicsek" and "package_version" in config
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 20 and summary["agent_steps_per_s"] > 0
    assert summary["final"]["polarization"] == pytest.approx(metrics["polarization"].iloc[-1])
    assert "agent-steps/s" in capsys.readouterr().out


def test_same_seed_same_table(tmp_path):
    for name in ("a", "b"):
        main(["run", "flocking", "--agents", "30", "--steps", "15", "--out",
              str(tmp_path / name), "--quiet"])  # fmt: skip
    a = pd.read_parquet(tmp_path / "a" / "metrics.parquet")
    b = pd.read_parquet(tmp_path / "b" / "metrics.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_csv_on_request(tmp_path):
    out = tmp_path / "csv"
    main(["run", "flocking", "--agents", "10", "--steps", "2", "--format", "csv", "--out",
          str(out), "--quiet"])  # fmt: skip
    assert len(pd.read_csv(out / "metrics.csv")) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policy", "magic"], "field 'policy': unknown policy; allowed: "),
        (["--agents", "-5"], "field 'n_agents': Input should be greater than or equal to 1"),
        (["--sense-radius", "far"], "field 'sense_radius': Input should be a valid number"),
        (["--warp-drive", "1"], "unknown option --warp-drive; allowed: --algebraic-connectivity"),
        (["--steps", "-1"], "--steps: must be >= 0"),
        (["--set", "nonsense"], "--set: expected key=value"),
    ],
)
def test_bad_options_fail_with_one_clear_line_and_write_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    code = main(["run", "flocking", "--out", str(out), "--quiet", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unknown_scenario_and_usage_errors_exit_2(capsys):
    assert main(["run", "teleport"]) == 2
    err = capsys.readouterr().err
    assert "scenario: unknown 'teleport'; allowed: " in err and "flocking" in err
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_list_names_scenarios_and_policies(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "flocking" in out and "vicsek" in out and "olfati_saber" in out


def _run(out, *extra):
    return main(["run", "flocking", "--agents", "10", "--steps", "3", "--out", str(out),
                 "--quiet", *extra])  # fmt: skip


def test_a_rerun_of_the_same_config_rewrites_only_its_own_files(tmp_path):
    out = tmp_path / "demo"
    assert _run(out) == 0 and _run(out) == 0
    assert len(pd.read_parquet(out / "metrics.parquet")) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no staging left behind


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda out: (out.mkdir(), (out / "notes.txt").write_text("mine")), "already holds files"),
        (lambda out: _run(out, "--seed", "7"), "already holds files"),  # another config
        (lambda out: out.write_text("a file"), "is a file, not a folder"),
        (lambda out: None, None),  # a new folder is fine
    ],
)
def test_out_never_replaces_what_the_program_did_not_write(tmp_path, capsys, setup, message):
    out = tmp_path / "demo"
    setup(out)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    capsys.readouterr()
    code = _run(out)
    err = capsys.readouterr().err
    if message is None:
        assert code == 0 and (out / "summary.json").exists()
        return
    assert code == 2 and err.count("\n") == 1 and message in err and "--out" in err
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # nothing written, moved or deleted


def test_an_empty_folder_is_filled_with_the_usual_modes(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    old = os.umask(0o022)
    try:
        assert _run(out) == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert modes == {"config.json": 0o644, "metrics.parquet": 0o644, "summary.json": 0o644}
    fresh = tmp_path / "fresh"
    assert _run(fresh) == 0 and fresh.stat().st_mode & 0o777 == 0o755


def test_an_output_below_a_file_is_refused_before_the_run(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _run(blocker / "run") == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_run_help_lists_the_scenario_fields(capsys):
    assert main(["run", "flocking", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--sense-radius" in text and "--comm-radius" in text and "--out" in text


def test_bench_runs_small_and_reports_ratios(tmp_path, capsys):
    report = tmp_path / "bench.json"
    assert main(["bench", "--sizes", "300", "--steps", "2", "--mesa-steps", "1",
                 "--mesa-size", "300", "--json", str(report)]) == 0  # fmt: skip
    data = json.loads(report.read_text())
    assert data["ratios"]["ours_vs_mesa_at_300"] > 1
    assert {r["workload"] for r in data["rows"]} == {"flocking (ours)", "mesa boid_flockers"}


def test_bench_agents_runs_one_size_and_skips_the_graph_view_above_its_limit(
    tmp_path, capsys, monkeypatch
):
    from swarm import bench

    monkeypatch.setattr(bench, "GRAPH_VIEW_MAX", 100)  # as 10^7 drones would be
    report = tmp_path / "bench.json"
    assert main(["bench", "--agents", "400", "--steps", "1", "--no-mesa",
                 "--json", str(report)]) == 0  # fmt: skip
    data = json.loads(report.read_text())
    assert {r["n_agents"] for r in data["rows"]} == {400}  # on one thread and on all
    assert data["graph_view"] == {} and data["peak_rss_bytes"] > 0
    assert "process peak resident memory" in capsys.readouterr().out
    assert main(["bench", "--agents", "1"]) == 2
    assert "--sizes/--agents: swarm sizes must be >= 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--sizes", "300", "--steps", "1", "--no-mesa", "--json", "{path}"],
        ["view", "flocking", "--agents", "5", "--headless", "--steps", "2", "--record", "{path}"],
    ],
)
def test_an_output_file_that_exists_is_never_overwritten(tmp_path, capsys, argv):
    path = tmp_path / ("mine.json" if "--json" in argv else "mine.gif")
    path.write_text("the user's own file")
    code = main([a.replace("{path}", str(path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "already exists; nothing is overwritten" in err
    assert path.read_text() == "the user's own file"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_crowd_whose_neighbour_tables_cannot_fit_is_refused_before_the_run(tmp_path, capsys):
    out = tmp_path / "dense"
    assert main(["run", "flocking", "--agents", "200000", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "field 'sense_radius'" in err or "sense_radius:" in err
    assert not out.exists()


def test_a_batch_of_envs_is_checked_as_a_whole():
    from swarm.config import ConfigError
    from swarm.marl import BatchedSwarmEnv

    env = BatchedSwarmEnv("flocking", n_envs=100_000, n_agents=20_000)
    with pytest.raises(ConfigError, match=r"n_envs: .* 100,000 envs of 20,000 drones"):
        env.reset(seed=0)  # refused before the arrays of 2 x 10^9 drones are allocated


def test_ctrl_c_inside_a_compiled_kernel_is_one_line_and_exit_130(monkeypatch, capsys):
    # numba re-raises an interrupt caught inside a compiled call as a SystemError caused by it
    import swarm.cli as cli

    def interrupted_in_kernel(args, extra):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as err:
            raise SystemError("CPUDispatcher returned a result with an exception set") from err

    monkeypatch.setattr(cli, "cmd_list", interrupted_in_kernel)
    assert cli.main(["list"]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["swarm list: interrupted; nothing partial was written"]

    def other_system_error(args, extra):
        raise SystemError("something else")

    monkeypatch.setattr(cli, "cmd_list", other_system_error)
    with pytest.raises(SystemError):
        cli.main(["list"])


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`swarm list | head -0`: the pipe closes before swarm writes; it ends quietly with
    the shell's SIGPIPE status, not a BrokenPipeError traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "swarm.cli", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    proc.stdout.close()  # before the interpreter has even imported swarm
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141, err.decode()
    assert b"Traceback" not in err
