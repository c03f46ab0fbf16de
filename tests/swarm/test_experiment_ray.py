"""The Ray executor gives exactly the local executor's results (a local Ray cluster of 2 CPUs).

Slow (starting Ray takes ~10 s), so it runs in the separate CI step for slow tests:
``pip install -e '.[ray]' && python3 -m pytest -m slow tests/swarm/test_experiment_ray.py``.
Without ray installed the test fails rather than skips: that step installs it.
"""

import dataclasses

import pandas as pd
import pytest

from swarm.experiment import run_experiment
from swarm.experiments.spec import parse_spec, plan
from swarm.experiments.store import ResultsStore

SPEC = {
    "name": "ray_vs_local",
    "scenario": "flocking",
    "policy": "vicsek",
    "steps": 40,
    "seeds": 2,
    "parameters": {"n_agents": 30, "world_size": 4.0, "sense_radius": 1.0, "dt": 1.0,
                   "max_accel": float("inf"), "policy_params": {"speed": 0.03}},
    "sweep": {"grid": {"policy_params": {"eta": [0.5, 4.0], "speed": [0.03, 0.05]}}},
    "metrics": {"final": ["polarization"], "time_series": ["polarization"], "tail": 0.5},
}  # fmt: skip


@pytest.mark.slow
def test_ray_and_local_executors_give_identical_results(tmp_path):
    import ray

    the_plan = plan(parse_spec(SPEC))
    # validation refuses a bad value before anything runs, so break the runs of one point
    # after planning: the workers meet an infinite speed, which the policy refuses
    for i, task in enumerate(the_plan.tasks):
        if task.params["policy_params.speed"] == 0.05:
            params = {**task.config["policy_params"], "speed": float("inf")}
            the_plan.tasks[i] = dataclasses.replace(
                task, config={**task.config, "policy_params": params}
            )
    local = run_experiment(the_plan, tmp_path / "local", "local", workers=2, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_experiment(the_plan, tmp_path / "ray", "ray", progress=False)
    finally:
        ray.shutdown()
    assert remote.ran == 8 and remote.failed == 4  # the broken runs fail on both
    columns = [c for c in local.table.columns if c != "wall_time_s"]
    pd.testing.assert_frame_equal(remote.table[columns], local.table[columns])
    for run_id in local.table.loc[local.table["status"] == "ok", "run_id"]:
        pd.testing.assert_frame_equal(
            ResultsStore(remote.out).series(run_id), ResultsStore(local.out).series(run_id)
        )
