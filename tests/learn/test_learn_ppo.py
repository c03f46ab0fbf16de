"""PPO's pieces against values worked out by hand (see the comments for the arithmetic)."""

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

from swarm.learn.ppo import (  # noqa: E402
    PPOConfig,
    compute_gae,
    minibatch_plan,
    normalize,
    policy_loss,
    value_loss,
)


def t(values):
    return torch.tensor(values, dtype=torch.float64)


def test_gae_on_a_hand_worked_trajectory_with_a_done():
    # gamma 0.9, lambda 0.8; the episode ends with transition 1 (dones[1] = 1):
    # t=2: delta = 3 + 0.9*2.0 - 1.5 = 3.3                 A2 = 3.3
    # t=1: delta = 2 + 0 - 1.0 = 1.0 (no bootstrap)        A1 = 1.0 (nothing flows back past a done)
    # t=0: delta = 1 + 0.9*1.0 - 0.5 = 1.4                 A0 = 1.4 + 0.9*0.8*1.0 = 2.12
    adv, ret = compute_gae(
        rewards=t([1.0, 2.0, 3.0]),
        values=t([0.5, 1.0, 1.5]),
        dones=t([0.0, 1.0, 0.0]),
        last_value=t(2.0),
        gamma=0.9,
        gae_lambda=0.8,
    )
    assert adv.tolist() == pytest.approx([2.12, 1.0, 3.3])
    assert ret.tolist() == pytest.approx([2.62, 2.0, 4.8])


def test_gae_limits_are_monte_carlo_and_td():
    rewards, values, dones = t([1.0, 1.0]), t([7.0, -3.0]), t([0.0, 0.0])
    # lambda = 1: returns are discounted sums bootstrapped from last_value, whatever V says
    # (1 + 0.5*1 + 0.25*4 = 2.5; 1 + 0.5*4 = 3)
    _, ret = compute_gae(rewards, values, dones, t(4.0), gamma=0.5, gae_lambda=1.0)
    assert ret.tolist() == pytest.approx([2.5, 3.0])
    # lambda = 0: one-step TD errors (1 + 0.5*(-3) - 7 = -7.5; 1 + 0.5*4 + 3 = 6)
    adv, _ = compute_gae(rewards, values, dones, t(4.0), gamma=0.5, gae_lambda=0.0)
    assert adv.tolist() == pytest.approx([-7.5, 6.0])


def test_gae_keeps_agents_and_envs_apart():
    # (T, E, N) = (2, 1, 2): agent 1's done does not cut agent 0's trace
    rewards = t([[[1.0, 1.0]], [[0.0, 0.0]]])
    dones = t([[[0.0, 1.0]], [[0.0, 0.0]]])
    adv, _ = compute_gae(rewards, torch.zeros(2, 1, 2), dones, t([[10.0, 10.0]]), 1.0, 1.0)
    assert adv[0, 0].tolist() == pytest.approx([11.0, 1.0])


def test_clipped_surrogate_takes_the_pessimistic_side():
    # ratios 1.5, 1.5, 0.5, 0.5 with advantages +2, -2, +2, -2, eps = 0.2:
    # min(3.0, 2.4) = 2.4; min(-3, -2.4) = -3; min(1.0, 1.6) = 1.0; min(-1, -1.6) = -1.6
    # loss = -mean = -(2.4 - 3 + 1 - 1.6) / 4 = 0.3
    new = t([1.5, 1.5, 0.5, 0.5]).log().requires_grad_()
    loss, info = policy_loss(new, torch.zeros(4, dtype=torch.float64), t([2, -2, 2, -2]), 0.2)
    assert loss.item() == pytest.approx(0.3)
    assert info["clip_fraction"].item() == 1.0
    loss.backward()
    # the clipped terms (1 and 4) carry no gradient; d(-r A / 4)/d log r = -r A / 4
    assert new.grad.tolist() == pytest.approx([0.0, 0.75, -0.25, 0.0])


def test_surrogate_at_ratio_one_is_the_policy_gradient():
    logp = t([0.3, -1.2]).requires_grad_()
    loss, info = policy_loss(logp, logp.detach(), t([1.0, -3.0]), 0.2)
    loss.backward()
    assert loss.item() == pytest.approx(1.0)  # -(1 - 3) / 2
    assert logp.grad.tolist() == pytest.approx([-0.5, 1.5])
    assert info["approx_kl"].item() == 0.0


def test_value_loss_clipped_and_unclipped():
    new, old, ret = t([1.0, 3.0]), t([2.0, 2.0]), t([0.0, 2.5])
    # unclipped: errors (1.0, 0.25); 0.5 * mean = 0.3125
    assert value_loss(new, old, ret, 0.2, clipped=False).item() == pytest.approx(0.3125)
    # moved = old + clamp(new - old, +-0.2) = (1.8, 2.2); errors (3.24, 0.09);
    # max with the unclipped (1.0, 0.25) -> (3.24, 0.25); 0.5 * mean = 0.8725
    assert value_loss(new, old, ret, 0.2, clipped=True).item() == pytest.approx(0.8725)


def test_normalize_uses_population_statistics_over_all_ranks():
    x = t([1.0, 2.0, 3.0, 4.0])
    std = 1.25**0.5  # population std of 1..4 (the sample std would be 1.29)
    assert normalize(x).tolist() == pytest.approx([(v - 2.5) / std for v in [1, 2, 3, 4]])
    # a rank holding [1, 2] whose all-reduce adds the other rank's [3, 4] gets the global
    # statistics: count and sum first, then the squared deviations from the global mean
    other = t([3.0, 4.0])
    partials = [((other - 2.5) ** 2).sum(), torch.stack([t(2.0), other.sum()])]
    half = normalize(x[:2], lambda tensor: tensor + partials.pop())
    assert half.tolist() == pytest.approx(normalize(x)[:2].tolist())


def test_minibatch_plan_covers_every_snapshot_once_per_epoch():
    cfg = PPOConfig(update_epochs=3, num_minibatches=4)
    plan = minibatch_plan(10, cfg, torch.Generator().manual_seed(0))
    assert len(plan) == 3
    for epoch in plan:
        assert len(epoch) == 4
        assert sorted(torch.cat(epoch).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="num_minibatches"):
        minibatch_plan(3, cfg, torch.Generator())
