"""Self-play: one policy per team, trained by the shared loop, loaded and played per team."""

import json

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import pandas as pd  # noqa: E402

from swarm.cli import main  # noqa: E402
from swarm.config import ConfigError  # noqa: E402
from swarm.learn.checkpoint import CheckpointError  # noqa: E402
from swarm.learn.loop import TrainJob, train  # noqa: E402
from swarm.learn.nets import ActorCritic, NetSpec  # noqa: E402
from swarm.learn.policy import load_policy  # noqa: E402
from swarm.learn.ppo import LossGroup, PPOConfig, Rollout, minibatch_plan, ppo_update  # noqa: E402
from swarm.learn.teams import TeamActorCritic, TeamColumns, learning_teams  # noqa: E402

OBS, STATE, T, E, N = 5, 4, 6, 3, 5
TEAMS = [TeamColumns("pursuer", 0, 3), TeamColumns("evader", 3, 5)]


def spec(critic="local"):
    return NetSpec(
        obs_dim=OBS, act_dim=2, state_dim=STATE if critic == "central" else 0, critic=critic,
        hidden=8, action_low=[-1.0, -1.0], action_high=[1.0, 1.0],
    )  # fmt: skip


def rollout(seed=0, columns=slice(None)):
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    full = Rollout(
        obs=r(T, E, N, OBS), msg_obs=torch.zeros(T, E, N, OBS),
        senders=torch.full((T, E, N, 6), -1), state=r(T, E, STATE), actions=r(T, E, N, 2),
        logprobs=r(T, E, N) - 2.0, values=r(T, E, N), rewards=r(T, E, N) * torch.arange(1, N + 1),
        dones=(torch.rand(T, E, N, generator=g) < 0.1).float(), last_value=r(E, N),
        active=(torch.rand(T, E, N, generator=g) < 0.9).float(),
    )  # fmt: skip
    if columns == slice(None):
        return full
    cut = {name: getattr(full, name)[..., columns] for name in
           ("logprobs", "values", "rewards", "dones", "active")}  # fmt: skip
    return Rollout(
        obs=full.obs[:, :, columns], msg_obs=full.msg_obs[:, :, columns],
        senders=full.senders[:, :, columns], state=full.state, actions=full.actions[:, :, columns],
        last_value=full.last_value[:, columns], **cut,
    )  # fmt: skip


@pytest.mark.parametrize("critic", ["local", "central"])
def test_a_team_update_is_each_team_trained_alone(critic):
    """Two teams in one module, one optimiser, one loss = each team's own PPO on its own
    columns (own advantage scale, own loss mean, own gradient clip)."""
    cfg = PPOConfig(rollout_steps=T, num_minibatches=2, update_epochs=2, max_grad_norm=0.05)
    torch.manual_seed(0)
    model = TeamActorCritic({t.name: spec(critic) for t in TEAMS}, TEAMS)
    alone = [ActorCritic(spec(critic)) for _ in TEAMS]
    for net, copy in zip(model.nets, alone, strict=True):
        copy.load_state_dict(net.state_dict())
    optimizer = torch.optim.Adam(model.param_groups(), lr=1e-2, eps=1e-5)
    plan = minibatch_plan(T * E, cfg, torch.Generator().manual_seed(1))
    groups = [LossGroup(t.name, m, list(net.parameters()))
              for t, net, m in zip(TEAMS, model.nets, model.masks(N), strict=True)]  # fmt: skip
    stats = ppo_update(model, optimizer, rollout(), cfg, plan, groups=groups)
    for team, net, copy in zip(TEAMS, model.nets, alone, strict=True):
        own = torch.optim.Adam(copy.parameters(), lr=1e-2, eps=1e-5)
        solo = ppo_update(copy, own, rollout(columns=slice(team.start, team.stop)), cfg, plan)
        for a, b in zip(net.parameters(), copy.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        assert stats[f"{team.name}/policy_loss"] == pytest.approx(solo["policy_loss"], rel=1e-4)


def test_a_frozen_team_keeps_every_parameter_while_the_other_learns():
    cfg = PPOConfig(rollout_steps=T, num_minibatches=2, update_epochs=2)
    model = TeamActorCritic({t.name: spec() for t in TEAMS}, TEAMS)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.param_groups(), lr=1e-2)
    learning = learning_teams(2, update=11, mode="alternate", every=10)
    assert learning == [False, True]  # updates 1-10 the first team, 11-20 the second
    groups = [LossGroup(t.name, m, list(net.parameters()), learns) for t, net, m, learns in
              zip(TEAMS, model.nets, model.masks(N), learning, strict=True)]  # fmt: skip
    ppo_update(model, optimizer, rollout(), cfg, minibatch_plan(T * E, cfg, torch.Generator()),
               groups=groups)  # fmt: skip
    n0 = len(list(model.nets[0].parameters()))
    frozen, trained = before[:n0], before[n0:]
    assert all(torch.equal(a, b) for a, b in zip(frozen, model.nets[0].parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in
                   zip(trained, model.nets[1].parameters(), strict=True))  # fmt: skip
    assert [g["lr"] for g in optimizer.param_groups] == [1e-2, 1e-2]


def test_a_frozen_team_keeps_its_optimiser_state_too():
    """Adam's moments and step count of a frozen team stay as they were: when its turn
    comes back it resumes where it stopped, not with moments decayed by the other's turn."""
    cfg = PPOConfig(rollout_steps=T, num_minibatches=2, update_epochs=2)
    model = TeamActorCritic({t.name: spec() for t in TEAMS}, TEAMS)
    optimizer = torch.optim.Adam(model.param_groups(), lr=1e-2)

    def update(learning: list[bool]) -> None:
        groups = [LossGroup(t.name, m, list(net.parameters()), learns) for t, net, m, learns in
                  zip(TEAMS, model.nets, model.masks(N), learning, strict=True)]  # fmt: skip
        plan = minibatch_plan(T * E, cfg, torch.Generator())
        ppo_update(model, optimizer, rollout(), cfg, plan, groups=groups)

    update([True, True])
    first = list(model.nets[0].parameters())
    state = {id(p): {k: v.clone() for k, v in optimizer.state[p].items()} for p in first}
    update([False, True])
    for p in first:
        for key, value in optimizer.state[p].items():
            assert torch.equal(value, state[id(p)][key]), key


def test_each_team_acts_with_its_own_network_only():
    model = TeamActorCritic({t.name: spec() for t in TEAMS}, TEAMS)
    batch = {"obs": torch.randn(2, N, OBS), "state": torch.zeros(2, 0)}
    before = model.distribution(batch).mean
    with torch.no_grad():
        for p in model.nets[1].parameters():
            p.add_(1.0)
    after = model.distribution(batch).mean
    assert torch.equal(before[:, :3], after[:, :3])  # the pursuers' actions did not move
    assert not torch.equal(before[:, 3:], after[:, 3:])


@pytest.fixture(scope="module")
def selfplay_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("selfplay") / "run"
    job = TrainJob.build(
        "train", scenario="pursuit", env_config={"max_cycles": 20, "shaping": 1.0},
        total_steps=20 * 4 * 2, num_envs=4, out=str(out), hidden=16, progress=False,
        ppo={"rollout_steps": 20, "num_minibatches": 2, "update_epochs": 1},
    )  # fmt: skip
    return out, train(job)


def test_pursuit_trains_one_policy_per_team_and_reports_each_return(selfplay_run):
    out, _ = selfplay_run
    metrics = pd.read_parquet(out / "metrics.parquet")
    for team in ("pursuer", "evader"):
        assert metrics[f"{team}/episode_return"].notna().all()
        assert f"{team}/policy_loss" in metrics
    # shaping: pursuers pay their distance to the evader, the evader earns it
    assert (metrics["pursuer/episode_return"] < 0).all()
    assert (metrics["evader/episode_return"] > 0).all()
    pursuer = load_policy(out, team="pursuer")
    evader = load_policy(out, team="evader")
    assert pursuer.team == "pursuer" and pursuer.trained_on == "pursuit"
    weights = [next(p.model.actor.parameters()) for p in (pursuer, evader)]
    assert not torch.equal(*weights)  # two networks, not one
    with pytest.raises(CheckpointError, match="name the team to play: pursuer, evader"):
        load_policy(out)


def test_gnn_actors_and_alternate_diloco_are_refused_before_training(tmp_path):
    base = dict(scenario="pursuit", total_steps=800, num_envs=4, progress=False,
                ppo={"rollout_steps": 100})  # fmt: skip
    with pytest.raises(ConfigError, match="allowed actor with teams: mlp"):
        train(TrainJob.build("train", actor="gnn", out=str(tmp_path / "a"), **base))
    with pytest.raises(ConfigError, match="allowed with diloco: simultaneous"):
        train(TrainJob.build("train", trainer="diloco", team_updates="alternate",
                             out=str(tmp_path / "b"), **base))  # fmt: skip
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_eval_plays_every_pairing_on_the_same_seeds(selfplay_run, tmp_path, capsys):
    out, _ = selfplay_run
    table = tmp_path / "crossplay.csv"
    code = main([
        "eval", "pursuit", "--policy", f"pursuers={out}", "--policy", "pursuers=greedy_pursuit",
        "--policy", f"evaders={out}", "--policy", "evaders=flee", "--episodes", "3",
        "--steps", "30", "--out", str(table),
    ])  # fmt: skip
    assert code == 0
    shown = capsys.readouterr().out
    assert "captured_fraction" in shown and "pursuer_return" in shown
    rows = pd.read_csv(table)
    assert len(rows) == 4 * 3
    assert set(rows["pursuers"]) == {str(out), "greedy_pursuit"}
    # classic against classic is the plain model with the trained-on settings: same numbers
    classic = rows[(rows.pursuers == "greedy_pursuit") & (rows.evaders == "flee")]
    from swarm.learn.evaluate import run_model
    from swarm.registry import scenario_class

    model = scenario_class("pursuit")(rng=0, shaping=1.0, policy="greedy_pursuit")
    again = run_model(model, 30)
    assert classic.iloc[0]["pursuer_return"] == pytest.approx(again["pursuer_return"])


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        (["wizards=flee"], "unknown team 'wizards'"),
        (["pursuers=flee_nowhere"], "flee_nowhere"),
        (["pursuers=greedy_pursuit", "pursuers=greedy_pursuit"], "given twice"),
    ],
)
def test_bad_pairings_fail_with_one_line(policies, message, capsys):
    args = ["eval", "pursuit", "--episodes", "1", "--steps", "2"]
    for value in policies:
        args += ["--policy", value]
    assert main(args) == 2
    line = capsys.readouterr().err.strip()
    assert message in line and "\n" not in line


def test_run_view_and_audit_take_a_team_from_a_selfplay_run(selfplay_run, tmp_path, capsys):
    out, _ = selfplay_run
    run = tmp_path / "played"
    assert main(["run", "pursuit", "--steps", "10", "--quiet", "--out", str(run),
                 "--policy", f"pursuers={out}", "--policy", "evaders=flee"]) == 0  # fmt: skip
    config = json.loads((run / "config.json").read_text())
    assert config["learned_policies"]["pursuer"].endswith(".pt")
    assert config["config"]["shaping"] == 1.0  # the trained-on settings
    assert config["config"]["evader_policy"] == "flee"
    assert main(["audit", "pursuit", "--steps", "5", "--policy", f"pursuers={out}",
                 "--policy", f"evaders={out}"]) == 0  # fmt: skip
    assert "pursuers: learned, evaders: learned is local" in capsys.readouterr().out
