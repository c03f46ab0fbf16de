"""Formation is learnable: its env observation holds the displacement reading, its reward is
not zero, and learned actors (MLP, GNN) on it pass the locality audit, as the classic
controller does with the slots given at take-off."""

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import numpy as np  # noqa: E402
from untrained import untrained_policy  # noqa: E402

from envs import formation_v0  # noqa: E402
from swarm.testing import assert_local  # noqa: E402

CFG = dict(n_agents=12, world_size=8.0, spawn_extent=6.0, sense_radius=2.5, assignment="spawn",
           max_accel=6.0)  # fmt: skip


def test_the_env_observes_the_displacement_reading_and_rewards_it():
    env = formation_v0.parallel_env(**CFG, max_cycles=5)
    obs, _ = env.reset(seed=0)
    layout = env.unwrapped.layout
    assert {"slot_error", "slot_peers", "slot_held"} <= set(layout.names)
    held = np.array([layout.view(obs[a], "slot_held")[0] for a in env.agents])
    assert (held == 1).all()  # every drone told its slot at take-off
    actions = {a: np.zeros(2, dtype=np.float32) for a in env.agents}
    _, rewards, *_ = env.step(actions)
    r = np.array(list(rewards.values()))
    assert (r <= 0).all() and (r < 0).any() and (r >= -1.0 - 12).all()


@pytest.mark.parametrize("actor", ["mlp", "gnn"])
@pytest.mark.parametrize("frame", ["world", "body"])
def test_learned_actors_on_formation_pass_the_locality_audit(actor, frame):
    cfg = {**CFG, "frame": frame}
    policy = untrained_policy("formation", cfg, actor, seed=5, limit=6.0)
    fields = {k: v for k, v in cfg.items() if k not in ("frame", "n_agents")}
    assert assert_local(policy, "formation", n_agents=12, steps=5, **fields) == 12 * 5


def test_the_classic_controller_with_slots_given_at_take_off_is_local():
    fields = {k: v for k, v in CFG.items() if k != "n_agents"}
    assert assert_local("formation", "formation", n_agents=12, steps=4, **fields) == 12 * 4


def test_the_scale_transfer_formation_task_fits_every_size_at_one_density(experiment_script):
    """experiments/scale_transfer.py's formation task: a valid scenario config (the grid and
    the spawn square inside the arena) from 10 to 10^4 drones, all at the training density."""
    from envs.formation import FormationConfig

    module = experiment_script("scale_transfer")
    task = module.TASKS["formation"]
    density = task.base_n / task.base_world**2
    for n in module.SIZES:
        config = FormationConfig(**task.scenario_config(n))
        assert config.n_agents / config.world_size**2 == pytest.approx(density)
        assert config.assignment == "spawn" and config.extent == pytest.approx(
            0.75 * config.world_size
        )
