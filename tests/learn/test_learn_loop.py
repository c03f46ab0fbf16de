"""The shared training loop: checkpoints, exact resume, and real learning on a tiny task."""

import pickle
import zipfile

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from toy_env import ToyReach  # noqa: E402

from swarm.learn.checkpoint import (  # noqa: E402
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from swarm.learn.loop import TrainJob, train  # noqa: E402
from swarm.learn.nets import ActorCritic  # noqa: E402
from swarm.learn.ppo import PPOConfig  # noqa: E402

# columns that must repeat exactly (wall times do not)
DETERMINISTIC = ["update", "env_steps", "episode_return", "reward_mean", "policy_loss",
                 "value_loss", "entropy", "approx_kl", "clip_fraction"]  # fmt: skip


def job(out, updates, **kw):
    ppo = PPOConfig(rollout_steps=8, num_minibatches=2, update_epochs=2, learning_rate=3e-3)
    values = dict(scenario="toy", total_steps=8 * 4 * updates, num_envs=4, out=str(out),
                  progress=False, hidden=16, checkpoint_every=2, ppo=ppo)  # fmt: skip
    values.update(kw)
    return TrainJob(**values)


def toy(n_envs):
    return ToyReach(n_envs, n_agents=3, horizon=8)


def final_model(out):
    return load_checkpoint(latest_checkpoint(out / "checkpoints"))["model"]


@pytest.mark.parametrize(("actor", "algo"), [("mlp", "ippo"), ("gnn", "mappo")])
def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path, actor, algo):
    train(job(tmp_path / "whole", 6, actor=actor, algo=algo), make_env=toy)
    train(job(tmp_path / "split", 4, actor=actor, algo=algo), make_env=toy)
    # the process "dies" after update 4; a later invocation asks for 6 in all
    train(job(tmp_path / "split", 6, actor=actor, algo=algo, resume=True), make_env=toy)
    whole, split = final_model(tmp_path / "whole"), final_model(tmp_path / "split")
    assert whole.keys() == split.keys()
    for name in whole:
        assert torch.equal(whole[name], split[name]), name
    a = pd.read_parquet(tmp_path / "whole" / "metrics.parquet")[DETERMINISTIC]
    b = pd.read_parquet(tmp_path / "split" / "metrics.parquet")[DETERMINISTIC]
    pd.testing.assert_frame_equal(a, b)
    assert sorted(p.name for p in (tmp_path / "split" / "checkpoints").iterdir()) == [
        "update_000002.pt", "update_000004.pt", "update_000006.pt",
    ]  # fmt: skip


def test_same_seed_same_run_different_seed_differs(tmp_path):
    train(job(tmp_path / "a", 2), make_env=toy)
    train(job(tmp_path / "b", 2), make_env=toy)
    train(job(tmp_path / "c", 2, seed=1), make_env=toy)
    a, b, c = (final_model(tmp_path / x)["log_std"] for x in "abc")
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_resume_refuses_changed_settings_and_missing_checkpoints(tmp_path):
    train(job(tmp_path / "run", 2), make_env=toy)
    with pytest.raises(CheckpointError, match="hidden: 16 -> 32"):
        train(job(tmp_path / "run", 4, hidden=32, resume=True), make_env=toy)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(job(tmp_path / "empty", 4, resume=True), make_env=toy)


def test_a_checkpoint_from_before_a_job_field_existed_resumes(tmp_path):
    """Fields added to TrainJob later (self-play's team_updates, alternate_every) held their
    defaults in older runs: their absence is no change of settings."""
    train(job(tmp_path / "run", 2), make_env=toy)
    path = latest_checkpoint(tmp_path / "run" / "checkpoints")
    saved = load_checkpoint(path)
    for field in ("team_updates", "alternate_every"):
        del saved["job"][field]
    save_checkpoint(path, saved)
    train(job(tmp_path / "run", 4, resume=True), make_env=toy)
    assert load_checkpoint(latest_checkpoint(tmp_path / "run" / "checkpoints"))["update"] == 4


def test_checkpoint_round_trip_restores_the_policy(tmp_path):
    train(job(tmp_path / "run", 2, actor="gnn", algo="mappo"), make_env=toy)
    saved = load_checkpoint(latest_checkpoint(tmp_path / "run" / "checkpoints"))
    from swarm.learn.nets import NetSpec

    model = ActorCritic(NetSpec(**saved["net_spec"]))
    model.load_state_dict(saved["model"])
    assert saved["update"] == 2 and saved["job"]["actor"] == "gnn"
    for name, value in model.state_dict().items():
        assert torch.equal(value, saved["model"][name])


class Payload:  # not a tensor or a plain value: weights_only loading must refuse it
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_foreign_and_tampered_files_fail_clearly(tmp_path):
    good = tmp_path / "update_000001.pt"
    save_checkpoint(good, {"update": 1, "env_steps": 1, "job": {}, "net_spec": {}, "model": {}})
    assert load_checkpoint(good)["update"] == 1

    evil = tmp_path / "evil.pt"
    torch.save({"format": "swarm-learn-checkpoint", "model": Payload()}, evil)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(evil)

    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a swarm-learn-checkpoint file"):
        load_checkpoint(foreign)

    pickled = tmp_path / "plain.pkl"
    pickled.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match="not a torch zip archive"):
        load_checkpoint(pickled)

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(CheckpointError):
        load_checkpoint(truncated)

    edited = tmp_path / "edited.pt"  # an archive whose pickle was swapped for another
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(edited, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(
                item,
                pickle.dumps(Payload(), protocol=2) if item.filename.endswith("data.pkl") else data,
            )
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(edited)


def test_a_few_hundred_updates_raise_the_return(tmp_path):
    """Real learning: 3 agents each steering to its own goal (optimal: straight at it)."""
    ppo = PPOConfig(rollout_steps=16, num_minibatches=4, update_epochs=4, learning_rate=3e-3)
    run = TrainJob(scenario="toy", total_steps=16 * 8 * 200, num_envs=8, out=str(tmp_path),
                   progress=False, hidden=32, checkpoint_every=1000, ppo=ppo)  # fmt: skip
    train(run, make_env=lambda n: ToyReach(n, n_agents=3, horizon=16))
    returns = pd.read_parquet(tmp_path / "metrics.parquet")["episode_return"].to_numpy()
    first, last = np.mean(returns[:10]), np.mean(returns[-10:])
    # random actions: about -16 per episode (mean start distance 1.04 m, 16 steps);
    # heading straight for the goal at 0.1-0.14 m per step: about -6
    assert first < -13
    assert last > -8.5, (first, last)
