"""bench_mainround's options: the radio range and the controller switch, checked against
runs built by hand, and every bad argument refused with one line before any run."""

import pytest


def hand_run(path, steps, params, comm_radius=None, switch=None, policy="pibt"):
    """(errands, bytes each robot sent a step) of a rotate run stepped here, planned by
    ``policy`` with ``params`` and, from step ``switch[1] + 1``, with ``switch[0]``'s
    parameters."""
    from envs.warehouse import WarehouseModel
    from policies.pibt import PIBTParams

    extra = {} if comm_radius is None else {"comm_radius": comm_radius}
    model = WarehouseModel(instance=str(path), policy=policy, policy_params=params,
                           motion="rotate", rng=0, guidance="none", **extra)  # fmt: skip
    for step in range(1, steps + 1):
        if switch is not None and step == switch[1] + 1:
            model.policy.params = PIBTParams(**switch[0])
        model.step()
    s = model.summary(free_flow=False)
    return s["tasks_finished"], s["bytes_per_agent_step"]


def test_the_radio_range_reaches_the_robots(tiny_instance, bench):
    path, _ = tiny_instance
    near = bench.run_row(path, 60, "rotate", "pibt-occupied", 0, comm_radius=2.0)
    usual = bench.run_row(path, 60, "rotate", "pibt-occupied", 0)
    assert (near["tasks"], near["bytes"]) == hand_run(path, 60, {"unknown_cells": "occupied"}, 2.0)
    assert (usual["tasks"], usual["bytes"]) == hand_run(path, 60, {"unknown_cells": "occupied"})
    assert near["bytes"] < usual["bytes"]  # fewer robots in range, fewer messages heard
    assert near["controller"] == "pibt-occupied, radio 2"
    assert usual["controller"] == "pibt-occupied"


def test_a_switch_hands_the_same_state_to_the_other_planner(tiny_instance, bench):
    path, _ = tiny_instance
    row = bench.run_row(path, 80, "rotate", "pibt-global", 0, switch=("pibt-occupied", 40))
    local = {"unknown_cells": "occupied"}
    assert (row["tasks"], row["bytes"]) == hand_run(path, 80, {"view": "global"}, None,
                                                    (local, 40))  # fmt: skip
    assert row["controller"] == "pibt-global, then pibt-occupied from step 40"
    whole = bench.run_row(path, 80, "rotate", "pibt-global", 0)
    assert whole["bytes"] == 0 < row["bytes"]  # the decentralised planner took over and talked
    # switching to the same controller changes nothing; the profile splits the run at the switch
    same = bench.run_row(path, 80, "rotate", "pibt-global", 0, profile=40, bands=3,
                         switch=("pibt-global", 40))  # fmt: skip
    split = bench.run_row(path, 80, "rotate", "pibt-global", 0, profile=40, bands=3,
                          switch=("pibt-occupied", 40))  # fmt: skip
    assert same["tasks"] == whole["tasks"]
    assert split["profile"][0]["errands"] == same["profile"][0]["errands"]


def test_the_epibt_controllers_plan_with_epibt(tiny_instance, bench):
    path, _ = tiny_instance
    for name, params in [("epibt-global", {"view": "global", "distance_priority": 30}),
                         ("epibt", {"unknown_cells": "occupied", "distance_priority": 30,
                                    "relay_vouches": True})]:  # fmt: skip
        row = bench.run_row(path, 40, "rotate", name, 0, wait_cost=2)  # PIBT's: not passed on
        assert (row["tasks"], row["bytes"]) == hand_run(path, 40, params, policy="epibt")
        assert (row["bytes"] > 0) == (name == "epibt")


@pytest.mark.parametrize(
    ("flag", "says"),
    [
        (["--profile", "5", "--bands", "0"], "--bands: at least 1"),
        (["--profile", "-1"], "--profile: 0 (off)"),
        (["--steps", "0"], "--steps: at least 1"),
        (["--bands", "3"], "--bands: only with --profile"),
        (["--first-round", "-1"], "--first-round: a task round"),
        (["--wait-cost", "0"], "--wait-cost: an integer in 1..10"),
        (["--profile", "5", "--bands", "1000"], "--bands: at most the"),
        (["--comm-radius", "0"], "--comm-radius: a finite range in cells"),
        (["--comm-radius", "inf"], "--comm-radius: a finite range in cells"),
        (["--switch", "pibt"], "--switch: CONTROLLER@STEP"),
        (["--switch", "nobody@5"], "--switch: CONTROLLER@STEP"),
        (["--steps", "10", "--switch", "pibt@10"], "a step in 1..9 (got 'pibt@10')"),
        (["--switch", "pibt@-3"], "--switch: CONTROLLER@STEP"),
        (["--switch", "epibt@5"], "switch between controllers of one policy"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_before_any_run(
    flag, says, tiny_instance, bench, capsys
):
    path, _ = tiny_instance
    with pytest.raises(SystemExit) as exc:
        bench.main(["--instances", str(path), *flag])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert says in captured.err.splitlines()[-1]
    assert captured.out == ""
