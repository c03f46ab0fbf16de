"""The ``rllib`` trainer plug-in: RLlib's PPO on our PettingZoo env, exported to our format.

The checks of unsupported settings are fast and need no Ray. The training tests start a
local Ray instance (~10 s), so they are marked slow and run in CI's second step, which
installs the ``rllib`` extra; without it they fail rather than skip.
"""

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

from swarm.cli import main  # noqa: E402
from swarm.learn.checkpoint import load_checkpoint  # noqa: E402
from swarm.learn.policy import load_policy  # noqa: E402
from swarm.learn.trainers import load_trainer  # noqa: E402

NAV = [
    "navigation", "--trainer", "rllib", "--set", "n_agents=3", "--set", "max_cycles=20",
    "--num-envs", "2", "--hidden", "16", "--ppo", "update_epochs=2", "--quiet",
]  # fmt: skip


def test_rllib_is_a_plugin_of_the_trainers_group():
    assert load_trainer("rllib").name == "rllib"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--algo", "mappo"], "algo: 'mappo'; allowed with --trainer rllib: ippo"),
        (["--actor", "gnn"], "actor: 'gnn'; allowed with --trainer rllib: mlp"),
        (["--ppo", "normalize_advantages=false"], "ppo.normalize_advantages: false"),
        (["--nproc", "3"], "num_envs: 2 does not split evenly over 3 env runners"),
    ],
)
def test_unsupported_settings_fail_before_ray_starts(tmp_path, capsys, extra, message):
    code = main(["train", *NAV, "--total-steps", "40", "--out", str(tmp_path / "x"), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_a_resumed_run_seeds_its_env_runners_afresh():
    """RLlib seeds env runners when built and checkpoints lack their random state: the seed
    depends on the resume point, else a resumed run would replay the first run's episodes."""
    from swarm.learn.rllib import rllib_seed

    seeds = {rllib_seed(0, start) for start in (0, 4, 8)} | {rllib_seed(1, 0)}
    assert len(seeds) == 4 and all(0 <= s < 2**31 for s in seeds)
    assert rllib_seed(0, 4) == rllib_seed(0, 4)  # deterministic


@pytest.fixture(scope="module")
def rllib_run(tmp_path_factory):
    """4 updates of 40 env steps, checkpoints every 2."""
    out = tmp_path_factory.mktemp("rllib") / "run"
    args = ["train", *NAV, "--total-steps", "160", "--checkpoint-every", "2", "--out", str(out)]
    assert main(args) == 0
    return out, args


@pytest.mark.slow
def test_rllib_run_folder_has_the_built_in_trainers_layout(rllib_run):
    out, _ = rllib_run
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert metrics["update"].tolist() == [1, 2, 3, 4]
    assert metrics["env_steps"].tolist() == [40, 80, 120, 160]
    assert metrics["agent_steps"].iloc[-1] == 160 * 3
    assert np.isfinite(metrics["episode_return"]).all()  # every update finished 2 episodes
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trainer"] == "rllib" and summary["updates"] == 4
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["rllib", "update_000002.pt", "update_000004.pt"]
    assert sorted(p.name for p in (out / "checkpoints" / "rllib").iterdir()) == [
        "update_000002", "update_000004",
    ]  # fmt: skip


@pytest.mark.slow
def test_exported_policy_acts_as_rllibs_module(rllib_run):
    """The export is RLlib's network, weight for weight: same mean action on any input."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    out, _ = rllib_run
    module = RLModule.from_checkpoint(
        out / "checkpoints" / "rllib" / "update_000004" / "learner_group" / "learner"
        / "rl_module" / "shared"
    )  # fmt: skip
    policy = load_policy(out)
    obs = torch.randn(32, policy.model.spec.obs_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = module.forward_train({"obs": obs})
        ours_mean = policy.model.actor(obs)
        ours_value = policy.model.value({"obs": obs})
    act_dim = policy.model.spec.act_dim
    torch.testing.assert_close(ours_mean, theirs["action_dist_inputs"][:, :act_dim])
    torch.testing.assert_close(
        policy.model.log_std.expand(32, -1), theirs["action_dist_inputs"][:, act_dim:]
    )
    torch.testing.assert_close(ours_value, module.compute_values({"obs": obs}))
    saved = load_checkpoint(out / "checkpoints" / "update_000004.pt")
    assert saved["trained_by"] == "rllib" and saved["job"]["trainer"] == "rllib"
    # the exported policy runs in the scenario's Mesa model like any learned policy
    model = policy.make_model(seed=1)
    model.step()
    assert model.steps == 1


@pytest.mark.slow
def test_rllib_resume_continues_from_the_last_checkpoint(rllib_run, tmp_path):
    out, args = rllib_run
    # a longer budget on the same folder picks up at update 5, keeping rows 1-4
    longer = [*args[: args.index("--total-steps")], "--total-steps", "240",
              "--checkpoint-every", "2", "--out", str(out), "--resume"]  # fmt: skip
    assert main(longer) == 0
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert metrics["update"].tolist() == [1, 2, 3, 4, 5, 6]
    assert json.loads((out / "summary.json").read_text())["updates"] == 6
    changed = [*longer[:-1], "--seed", "5", "--resume"]
    assert main(changed) == 2  # other settings: refused, nothing overwritten
    assert len(pd.read_parquet(out / "metrics.parquet")) == 6
