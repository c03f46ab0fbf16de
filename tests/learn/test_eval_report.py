"""``swarm eval --out DIR / --marl-eval FILE``: per-seed results, IQM with bootstrap
intervals, marl-eval's JSON layout, and outputs refused before any episode runs."""

import json
import sys

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from swarm.cli import main  # noqa: E402
from swarm.learn import evaluate, report  # noqa: E402
from swarm.learn.loop import TrainJob, train  # noqa: E402
from swarm.learn.ppo import PPOConfig  # noqa: E402

SMALL = dict(n_agents=2, world_size=4.0, max_cycles=25)
CLASSIC_PAIRINGS = ["--policy", "pursuers=greedy_pursuit", "--policy", "pursuers=voronoi_pursuit",
                    "--policy", "evaders=flee"]  # fmt: skip
SCIPY = report.Estimator("scipy", "scipy (forced by the test)")


def estimators():
    """scipy always; rliable too where it imports and runs here."""
    found = report.estimator()
    return [SCIPY, *([found] if found.name == "rliable" else [])]


@pytest.fixture(scope="module")
def nav_run(tmp_path_factory):
    """A navigation policy after one tiny PPO update: enough for eval to load and fly."""
    out = tmp_path_factory.mktemp("nav") / "run"
    ppo = PPOConfig(rollout_steps=25, learning_rate=1e-3, reward_scale=0.1)
    train(TrainJob(scenario="navigation", env_config=SMALL, total_steps=25 * 16, num_envs=16,
                   out=str(out), progress=False, checkpoint_every=1000, ppo=ppo))  # fmt: skip
    return out


# --------------------------------------------------------------------------- estimators
def test_iqm_is_the_mean_of_the_middle_half():
    assert report.interquartile_mean(np.arange(1, 9)) == pytest.approx(4.5)  # mean(3, 4, 5, 6)
    # one wild seed moves the mean, not the IQM: the middle half is still 3..6
    wild = np.array([1000.0, 7, 2, 6, 1, 5, 3, 4])
    assert report.interquartile_mean(wild) == pytest.approx(4.5)
    stats = report.estimate(wild, method=SCIPY)
    assert stats["iqm"] == pytest.approx(4.5)
    assert stats["mean"] == pytest.approx(1028 / 8)
    assert report.interquartile_mean(np.arange(1, 13)) == pytest.approx(np.mean([4, 5, 6, 7, 8, 9]))


@pytest.mark.parametrize("method", estimators(), ids=lambda m: m.name)
def test_intervals_contain_the_estimates_and_shrink_with_more_seeds(method):
    rng = np.random.default_rng(3)
    widths = []
    for n in (6, 24, 96):
        stats = report.estimate(rng.normal(2.0, 1.0, n), method=method)
        low, high = stats["iqm_ci"]
        assert low < stats["iqm"] < high
        assert stats["mean_ci"][0] < stats["mean"] < stats["mean_ci"][1]
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    assert widths[2] < 0.6 * widths[0]


def test_nan_seeds_are_left_out_and_counted_and_degenerate_cases_say_so():
    stats = report.estimate([np.nan, 1.0, 2.0, 3.0, 4.0], method=SCIPY)
    assert (stats["n"], stats["n_missing"]) == (4, 1)
    assert stats["mean"] == pytest.approx(2.5)
    one = report.estimate([7.0], method=SCIPY)
    assert one["iqm"] == 7.0 and np.isnan(one["iqm_ci"]).all()  # one seed: no interval
    assert report.estimate([2.0, 2.0, 2.0], method=SCIPY)["iqm_ci"] == [2.0, 2.0]
    none = report.estimate([np.nan, np.nan], method=SCIPY)
    assert none["n"] == 0 and np.isnan(none["mean"])


def test_scipy_is_the_fallback_when_rliable_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "rliable", None)  # import rliable raises ImportError
    report.estimator.cache_clear()
    try:
        chosen = report.estimator()
        assert chosen.name == "scipy"
        assert "rliable unavailable: ModuleNotFoundError" in chosen.note
        summary = report.summarize(pd.DataFrame({"controller": ["a"] * 4, "seed": range(4),
                                                 "x": [1.0, 2, 3, 4]}), ["controller"])  # fmt: skip
        assert summary["estimator"] == "scipy" and "rliable unavailable" in summary[
            "estimator_note"]  # fmt: skip
    finally:
        report.estimator.cache_clear()


# --------------------------------------------------------------------------- swarm eval --out
def read_outputs(out):
    table = pd.read_parquet(out / report.RESULTS_PARQUET)
    records = json.loads((out / report.RESULTS_JSON).read_text())
    summary = json.loads((out / report.SUMMARY_JSON).read_text())
    return table, records, summary


def test_eval_out_writes_per_seed_rows_and_their_summary(nav_run, tmp_path, capsys):
    out, marl = tmp_path / "report", tmp_path / "marl.json"
    code = main(["eval", "navigation", "--policy", str(nav_run), "--episodes", "3", "--seed", "4",
                 "--steps", "5", "--out", str(out), "--marl-eval", str(marl)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    lines = printed.splitlines()
    assert lines[0].split() == ["controller", "learned", "uniform_random", "random_walk"]
    assert "episode_return" in printed and " | " in printed and "intervals over 3 seeds" in printed
    table, records, summary = read_outputs(out)
    controllers = ["learned", "uniform_random", "random_walk"]
    assert table.groupby("controller", sort=False)["seed"].apply(list).to_dict() == {
        c: [4, 5, 6] for c in controllers
    }
    assert {"episode_return", "coverage_cost", "landmarks_covered"} <= set(table.columns)
    assert pd.DataFrame(records).equals(table)  # the JSON holds the same rows
    assert summary["written_by"] == "swarm eval" and summary["scenario"] == "navigation"
    assert summary["estimator"] in {"rliable", "scipy"} and summary["seeds"] == [4, 5, 6]
    assert list(summary["groups"]) == controllers
    for controller, metrics in summary["groups"].items():
        rows = table[table.controller == controller]
        assert set(metrics) == set(table.columns) - {"controller", "seed"}
        for metric, stats in metrics.items():
            values = rows[metric].to_numpy(dtype=float)
            assert stats["mean"] == pytest.approx(values.mean())
            assert stats["iqm"] == pytest.approx(report.interquartile_mean(values))
            assert stats["iqm_ci"][0] <= stats["iqm"] <= stats["iqm_ci"][1]
    # the printed cell is the summary's: mean | IQM [interval]
    ret = summary["groups"]["learned"]["episode_return"]
    row = next(line for line in lines if line.startswith("episode_return"))
    assert f"{ret['mean']:.4g} | {ret['iqm']:.4g} [{ret['iqm_ci'][0]:.4g}," in row
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left

    document = json.loads(marl.read_text())
    runs = document["swarm-sandbox"]["navigation"]["learned"]
    assert list(runs) == ["run_4", "run_5", "run_6"]
    assert list(runs["run_4"]) == ["step_1", "absolute_metrics"]  # absolute_metrics last
    assert runs["run_4"]["step_1"]["step_count"] == 5
    back = report.marl_eval_table(document)
    assert set(back["algorithm"]) == set(controllers)
    merged = table.merge(back, left_on=["controller", "seed"], right_on=["algorithm", "seed"],
                         suffixes=("", "_marl"))  # fmt: skip
    assert len(merged) == len(table) == 9
    np.testing.assert_allclose(merged["episode_return_marl"], merged["episode_return"])


def test_marl_eval_document_round_trips_and_leaves_out_incomplete_metrics():
    table = pd.DataFrame({
        "pursuers": ["a", "a", "b", "b"], "evaders": ["e"] * 4, "seed": [0, 1, 0, 1],
        "reward": [1.0, 2.0, 3.0, 4.0], "capture_time": [5.0, np.nan, 6.0, 7.0],
        "captured": [True, False, True, True],
    })  # fmt: skip
    document, dropped = report.marl_eval_document(table, ["pursuers", "evaders"], "pursuit", 30)
    assert dropped == ["capture_time"]
    again = json.loads(json.dumps(document))  # survives JSON as is
    run = again["swarm-sandbox"]["pursuit"]["pursuers=b, evaders=e"]["run_1"]
    assert run == {"step_1": {"step_count": 30, "reward": [4.0], "captured": [1.0]},
                   "absolute_metrics": {"reward": [4.0], "captured": [1.0]}}  # fmt: skip
    back = report.marl_eval_table(again)
    assert back[["seed", "reward", "captured"]].to_numpy().tolist() == [
        [0, 1.0, 1.0], [1, 2.0, 0.0], [0, 3.0, 1.0], [1, 4.0, 1.0]]  # fmt: skip


def test_crossplay_out_summarises_every_pairing(tmp_path, capsys):
    out = tmp_path / "crossplay"
    code = main(["eval", "pursuit", *CLASSIC_PAIRINGS, "--episodes", "2", "--steps", "5",
                 "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "mean [95 % bootstrap interval]" in printed and "pursuer_return" in printed
    table, _, summary = read_outputs(out)
    assert len(table) == 2 * 2 and summary["group_by"] == ["pursuers", "evaders"]
    assert list(summary["groups"]) == ["pursuers=greedy_pursuit, evaders=flee",
                                       "pursuers=voronoi_pursuit, evaders=flee"]  # fmt: skip
    stats = summary["groups"]["pursuers=greedy_pursuit, evaders=flee"]["pursuer_return"]
    assert stats["n"] == 2 and stats["iqm_ci"][0] <= stats["iqm"] <= stats["iqm_ci"][1]
    # an earlier report may be rewritten: it is swarm eval's own
    assert main(["eval", "pursuit", *CLASSIC_PAIRINGS, "--episodes", "3", "--steps", "5",
                 "--out", str(out)]) == 0  # fmt: skip
    assert len(read_outputs(out)[0]) == 2 * 3


def _no_episodes(*args, **kwargs):
    raise AssertionError("an episode ran before --out was checked")


@pytest.mark.parametrize("case", ["file", "foreign_folder", "under_a_file", "marl_eval_exists"])
def test_a_bad_output_is_refused_before_any_episode_and_left_alone(case, tmp_path, capsys,
                                                                   monkeypatch):  # fmt: skip
    monkeypatch.setattr(evaluate, "compare", _no_episodes)
    monkeypatch.setattr(evaluate, "crossplay", _no_episodes)
    existing = tmp_path / "keep.txt"
    existing.write_text("precious")
    foreign = tmp_path / "folder"
    foreign.mkdir()
    (foreign / "notes.md").write_text("mine")
    out, extra, option = {
        "file": (existing, [], "--out"),
        "foreign_folder": (foreign, [], "--out"),
        "under_a_file": (existing / "report", [], "--out"),
        "marl_eval_exists": (tmp_path / "new", ["--marl-eval", str(existing)], "--marl-eval"),
    }[case]
    for policy in (["--policy", "runs/none"], CLASSIC_PAIRINGS):  # one team, and teams
        code = main(["eval", "navigation" if len(policy) == 2 else "pursuit", *policy,
                     "--out", str(out), *extra])  # fmt: skip
        error = capsys.readouterr().err.strip()
        assert code == 2
        assert "\n" not in error and f"{option} " in error
        assert "allowed" in error or "nothing is overwritten" in error
    assert existing.read_text() == "precious"
    assert [p.name for p in foreign.iterdir()] == ["notes.md"]
    assert not (tmp_path / "new").exists()
