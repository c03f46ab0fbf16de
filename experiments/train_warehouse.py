"""Learned warehouse robots (issue 19, item 2): train a shared categorical actor on
warehouse_v0, then compare it with PIBT and greedy yielding on held-out seeds at several
team sizes.

The MLP actor (``--actor mlp``, default) reads each robot's own observation only
(egocentric 7x7 view of robots, shelves and its goal; goal offset; has-task flag; the grid
moves that shorten its BFS distance to the goal); it sends no messages. The GNN actor
(``--actor gnn``) also reads the mean of the learned messages (8 floats each) its 6 nearest
comm neighbours composed from their own observations one step earlier; deployed, they go
over the warehouse radio (a declared round, counted in bytes). Trained at 32 robots on the
default generated layout (10 x 35 cells, 206 free), evaluated without retraining at 32, 64
and 128 robots on the same map (denser, not larger) and on seeds training never drew
(evaluation seeds 1000+).

::

    python experiments/train_warehouse.py --out runs/wh-ppo            # train, then evaluate
    python experiments/train_warehouse.py --out runs/wh-ppo --eval-only
    python experiments/train_warehouse.py --actor gnn                  # runs/wh-ppo-gnn

The same as commands::

    swarm train warehouse --total-steps 480000 --num-envs 16 --set n_agents=32 \\
        --set max_cycles=100 --hidden 128 --lr 5e-4 --ppo ent_coef=0.01 --seed 0 --out OUT \\
        [--actor gnn]
    swarm eval warehouse --policy OUT --set n_agents=64 --against pibt \\
        --against greedy_yield --episodes 5 --seed 1000 --steps 200 [--set sample=true]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

COLUMNS = ["throughput", "attempted_conflicts", "wait_fraction", "executed_collisions",
           "bytes_sent"]  # fmt: skip


def train(out: Path, total_steps: int, seed: int, actor: str = "mlp") -> None:
    """PPO (IPPO, local critic) with the project's local trainer; the same settings for
    both actors (the GNN's message size and senders: the trainer's defaults, 8 and 6)."""
    from swarm.learn.loop import TrainJob
    from swarm.learn.ppo import PPOConfig
    from swarm.learn.trainers import LocalTrainer

    job = TrainJob(
        scenario="warehouse", env_config={"n_agents": 32, "max_cycles": 100},
        total_steps=total_steps, num_envs=16, seed=seed, out=str(out), hidden=128, actor=actor,
        checkpoint_every=20, progress=True,
        ppo=PPOConfig(rollout_steps=100, learning_rate=5e-4, ent_coef=0.01),
    )  # fmt: skip
    LocalTrainer().run(job)


def evaluate(out: Path, sizes: list[int], episodes: int, steps: int) -> pd.DataFrame:
    """Mean over held-out seeds 1000.. of each controller's metrics, per team size; the
    learned policy both greedy (argmax) and sampling (keyed draws). The runs of
    :func:`swarm.learn.evaluate.compare`, plus each run's radio traffic: ``bytes_sent``,
    bytes per robot per step over the whole run (0 for the MLP and greedy yielding)."""
    from swarm.learn.evaluate import baseline_model, run_grid_model
    from swarm.learn.policy import load_policy

    def run(model) -> dict[str, float]:
        metrics = run_grid_model(model, steps)
        return {**metrics, "bytes_sent": model.traffic_summary()["bytes_per_agent_step"]}

    rows = []
    for n in sizes:
        table = []
        for sample in (False, True):
            learned = load_policy(out, n_agents=n, sample=sample)
            name = "learned (sample)" if sample else "learned"
            against = [] if sample else ["pibt", "greedy_yield"]
            for s in range(1000, 1000 + episodes):
                table.append({"controller": name, **run(learned.make_model(s))})
                for other in against:
                    model = baseline_model("warehouse", other, learned.env_config, s)
                    table.append({"controller": other, **run(model)})
        means = pd.DataFrame(table).groupby("controller", sort=False)[COLUMNS].mean()
        rows += [{"robots": n, "controller": c, **r} for c, r in means.iterrows()]
    return pd.DataFrame(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--actor", choices=["mlp", "gnn"], default="mlp")
    p.add_argument("--out", type=Path, default=None, help="default runs/wh-ppo[-gnn]")
    p.add_argument("--total-steps", type=int, default=480_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    p.add_argument("--episodes", type=int, default=5)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--eval-only", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.out is None:
        args.out = Path("runs/wh-ppo" if args.actor == "mlp" else "runs/wh-ppo-gnn")
    if not args.eval_only:
        train(args.out, args.total_steps, args.seed, args.actor)
    curve = pd.read_parquet(args.out / "metrics.parquet")[["update", "episode_return"]]
    print(curve.iloc[:: max(1, len(curve) // 15)].to_string(index=False))
    table = evaluate(args.out, args.sizes, args.episodes, args.steps)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
