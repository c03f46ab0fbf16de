"""Local auction allocation: fewer contested claims than grabbing the nearest order."""

from envs.warehouse import WarehouseModel
from swarm.grid.layout import LayoutParams


def run(policy, seed=2):
    model = WarehouseModel(
        n_agents=40, layout=LayoutParams(block_rows=3, block_cols=4), policy=policy,
        tasks="poisson", orders_rate=0.6, comm_radius=6.0, rng=seed,
    )  # fmt: skip
    for _ in range(250):
        model.step()
    return model.metrics


def test_auction_lowers_claim_conflicts_and_keeps_throughput():
    auction, nearest = run("auction"), run("pibt")  # pibt claims the nearest order
    assert auction["executed_collisions"] == nearest["executed_collisions"] == 0
    assert auction["claim_conflicts"] < 0.5 * nearest["claim_conflicts"]
    assert auction["tasks_finished"] >= 0.9 * nearest["tasks_finished"]
    assert auction["tasks_finished"] > 50
