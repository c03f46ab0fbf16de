"""Consensus and rendezvous: drones agree on a number, or on a meeting point, by talking only
to their comm-graph neighbours.

Version ``v0``.

=================  =====================================================================
Agents             ``n_agents`` drones; each holds a scalar ``value`` (engine-carried
                   per-agent state, ``obs.own["value"]``), drawn at spawn by
                   ``initial_values``
Arena              square of side ``world_size``, ``box`` walls by default; drones spawn in
                   the central square of side ``spawn_extent``; with ``dim = 3`` a cube and
                   its central cube (the box's floor and ceiling are the altitude limits)
Sensing            neighbours within ``sense_radius``
Communication      ``comm_model`` (range / knn / fixed graph: ring, grid, any ``nx.Graph``)
Default policy     ``average_consensus`` (Olfati-Saber and Murray 2004); also
                   ``max_consensus`` (flooding / leader election) and ``rendezvous``
                   (circumcenter algorithm, Ando et al. 1999: the smallest enclosing
                   circle; in 3-D the smallest enclosing sphere and constraint balls,
                   Cortés, Martínez, Bullo 2006); all three fly in the plane and the cube
Metrics            disagreement ``||x - mean(x) 1||_2`` over alive drones; spread
                   ``max x - min x``; mean_drift ``|mean(x) - mean(x(0))|`` (0 for average
                   consensus on symmetric lossless links); position_spread (largest distance
                   of a drone to the swarm's centroid, m, in 2-D or 3-D: rendezvous drives
                   it to 0);
                   n_components of the comm graph; n_alive
Reward (envs)      ``-disagreement`` of the drone's environment, shared by its drones
=================  =====================================================================

The value is engine-carried state rather than controller memory so that the observer's
metrics read the same array the controllers update (through ``Policy.next_state``), the
scenario alone decides the initial values, and a crashed drone's value freezes with it.

Convergence rate on a fixed graph. Average consensus runs ``x(k+1) = (I - eps L) x(k)``
(one idle round first: at step 0 no message has arrived yet). The disagreement
``delta(k) = ||x(k) - mean 1||`` then obeys, for a connected graph and
``eps * lambda_max(L) <= 1``, the bound ``delta(k+1) <= (1 - eps * lambda_2) delta(k)`` and
decays asymptotically at exactly that rate (``lambda_2``: algebraic connectivity).
:meth:`ConsensusModel.convergence_report` puts the measured rate beside the predicted one.

Arguments are the fields of :class:`ConsensusConfig` plus ``rng`` (the seed). Example::

    import networkx as nx
    from envs.consensus import ConsensusModel
    model = ConsensusModel(n_agents=36, comm_model="fixed", comm_topology="grid",
                           policy_params={"eps": 0.125}, rng=1)
    for _ in range(300):
        model.step()
    model.convergence_report()  # {'predicted_rate': ..., 'measured_rate': ..., ...}
"""

from __future__ import annotations

from typing import Any, Literal

import networkx as nx
import numpy as np
from pydantic import Field, model_validator

from swarm import metrics as m
from swarm.engine import Swarm, SwarmConfig
from swarm.model import SwarmModel
from swarm.scenario import Scenario, random_headings


class ConsensusConfig(SwarmConfig):
    """Engine settings (see :class:`SwarmConfig`) with the consensus task's own fields."""

    dims = (2, 3)  # values agree over the comm graph, in the plane or in a cube

    policy: str = Field("average_consensus", description="controller name (see `swarm list`)")
    boundary: Literal["torus", "box"] = Field(
        "box", description="torus wraps around; box has reflecting walls"
    )
    max_accel: float = Field(
        float("inf"),
        gt=0,
        allow_inf_nan=True,
        description="acceleration limit (m/s^2); inf (default) is the kinematic drone that "
        "rendezvous' connectivity guarantee assumes",
    )
    initial_speed: float = Field(0.0, ge=0, description="spawn speed (m/s); drones hover")
    spawn_extent: float | None = Field(
        None,
        gt=0,
        description="side of the central square (cube with dim = 3) drones spawn in (m); "
        "default arena",
    )
    initial_values: Literal["uniform", "normal", "row"] = Field(
        "uniform",
        description="initial value: uniform in [value_low, value_high], normal with that mean "
        "and half-range as std, or the drone's own index (leader election)",
    )
    value_low: float = Field(0.0, description="lower end of the initial values")
    value_high: float = Field(1.0, description="upper end of the initial values")

    @model_validator(mode="after")
    def _ordered_range(self) -> ConsensusConfig:
        if self.value_high < self.value_low:
            raise ValueError(
                f"value_high ({self.value_high}) must be >= value_low ({self.value_low})"
            )
        if self.spawn_extent is not None and self.spawn_extent > self.world_size:
            raise ValueError(
                f"spawn_extent ({self.spawn_extent}) must be <= world_size ({self.world_size})"
            )
        return self


def _per_env(engine: Swarm, values: np.ndarray, reduce: str) -> np.ndarray:
    """Reduce a per-row array over alive rows of each env: 'sum', 'max' or 'min'."""
    alive = engine.alive.reshape(engine.n_envs, engine.n_agents)
    grid = values.reshape(engine.n_envs, engine.n_agents)
    if reduce == "sum":
        return np.where(alive, grid, 0.0).sum(axis=1)
    fill = -np.inf if reduce == "max" else np.inf
    out = getattr(np.where(alive, grid, fill), reduce)(axis=1)
    return np.where(alive.any(axis=1), out, 0.0)


def swarm_centre(engine: Swarm) -> np.ndarray:
    """(E, dim) centroid of the alive drones (circular mean per axis on a torus)."""
    c = engine.config
    n = np.maximum(_per_env(engine, np.ones(engine.rows), "sum"), 1.0)
    if not c.torus:
        return np.column_stack(
            [_per_env(engine, engine.pos[:, k], "sum") / n for k in range(engine.dim)]
        )
    angle = engine.pos * (2 * np.pi / c.world_size)
    centre = np.column_stack(
        [
            np.arctan2(
                _per_env(engine, np.sin(angle[:, k]), "sum"),
                _per_env(engine, np.cos(angle[:, k]), "sum"),
            )
            for k in range(engine.dim)
        ]
    )
    return np.mod(centre, 2 * np.pi) * (c.world_size / (2 * np.pi))


class Consensus(Scenario):
    """Spawn hovering drones holding their initial values; report disagreement."""

    name = "consensus"

    def __init__(self, config: ConsensusConfig):
        super().__init__(config)
        self.initial_mean = np.zeros(0)  # (E,) mean of the initial values, for mean_drift
        self.metric_functions = {
            "disagreement": self.disagreement,
            "spread": self.spread,
            "mean_drift": self.mean_drift,
            "position_spread": self.position_spread,
            "n_components": m.n_components,
            "n_alive": m.n_alive,
        }

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        c = self.config
        n = len(rows)
        extent = c.spawn_extent if c.spawn_extent is not None else c.world_size
        low = 0.5 * (c.world_size - extent)
        engine.pos[rows] = rng.uniform(low, low + extent, size=(n, engine.dim))
        engine.vel[rows] = c.initial_speed * random_headings(rng, n, engine.dim)
        if "value" not in engine.agent_state:
            engine.agent_state["value"] = np.zeros(engine.rows)
        if c.initial_values == "uniform":
            values = rng.uniform(c.value_low, c.value_high, size=n)
        elif c.initial_values == "normal":
            mid, half = 0.5 * (c.value_low + c.value_high), 0.5 * (c.value_high - c.value_low)
            values = rng.normal(mid, half, size=n)
        else:
            values = (rows % engine.n_agents).astype(float)
        engine.agent_state["value"][rows] = values
        mean = _per_env(engine, engine.agent_state["value"], "sum") / np.maximum(
            _per_env(engine, np.ones(engine.rows), "sum"), 1.0
        )
        if self.initial_mean.shape != mean.shape:
            self.initial_mean = mean
        else:  # a partial respawn: the other environments keep their own starting mean
            envs = np.unique(engine.env[rows])
            self.initial_mean[envs] = mean[envs]

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        """(R,) minus the disagreement of the drone's environment (shared by its drones):
        the team earns most, 0, once every alive drone holds the same value."""
        return np.where(engine.alive, -self.disagreement(engine)[engine.env], 0.0)

    # ----------------------------------------------------------------- metrics
    @staticmethod
    def _mean(engine: Swarm) -> np.ndarray:
        n = np.maximum(_per_env(engine, np.ones(engine.rows), "sum"), 1.0)
        return _per_env(engine, engine.agent_state["value"], "sum") / n

    def disagreement(self, engine: Swarm) -> np.ndarray:
        """||x - mean(x) 1||_2 over alive drones, per env."""
        x = engine.agent_state["value"]
        dev = x - self._mean(engine)[engine.env]
        return np.sqrt(_per_env(engine, dev**2, "sum"))

    def spread(self, engine: Swarm) -> np.ndarray:
        x = engine.agent_state["value"]
        return _per_env(engine, x, "max") - _per_env(engine, x, "min")

    def mean_drift(self, engine: Swarm) -> np.ndarray:
        return np.abs(self._mean(engine) - self.initial_mean)

    def position_spread(self, engine: Swarm) -> np.ndarray:
        """Largest distance of an alive drone to the swarm's centroid (m)."""
        c = self.config
        d = engine.pos - swarm_centre(engine)[engine.env]
        if c.torus:
            d -= c.world_size * np.round(d / c.world_size)
        return _per_env(engine, np.sqrt((d**2).sum(axis=1)), "max")


def laplacian_extremes(graph: nx.Graph) -> tuple[float, float]:
    """(lambda_2, lambda_max) of the graph Laplacian (networkx; dense, fine to ~10^3 nodes)."""
    spectrum = np.sort(nx.laplacian_spectrum(graph))
    return float(spectrum[1]), float(spectrum[-1])


def measured_rate(disagreement: np.ndarray, tail: float = 0.5, floor: float = 1e-10) -> float:
    """Per-step decay factor fitted (least squares on log) over the last ``tail`` of the run.

    Steps where the disagreement fell below ``floor`` times its start are left out: there
    round-off, not the graph, sets the rate.
    """
    d = np.asarray(disagreement, dtype=float)
    keep = np.flatnonzero(d > floor * d[0])
    if len(keep) < 4:
        raise ValueError("too few steps above the round-off floor to fit a rate")
    keep = keep[int(len(keep) * (1 - tail)) :]
    slope = np.polyfit(keep, np.log(d[keep]), 1)[0]
    return float(np.exp(slope))


class ConsensusModel(SwarmModel):
    """Mesa model of the consensus scenario (see the module docstring)."""

    name = "consensus"
    scenario_class = Consensus
    config_class = ConsensusConfig

    def convergence_report(self) -> dict[str, Any]:
        """Measured decay rate of the disagreement beside ``1 - eps * lambda_2``.

        For a fixed, connected comm graph and a controller with a step size ``eps``
        (``average_consensus``). ``bound_holds``: ``delta(k) <= rate^(k-1) delta(0)`` at every
        recorded step (relative slack 1e-9; step 0 is the idle round).
        """
        graph = self.comm_graph
        if not nx.is_connected(graph):
            raise ValueError("convergence_report: the comm graph is not connected")
        eps = getattr(self.policy.params, "eps", None)
        if eps is None:
            raise ValueError(f"convergence_report: policy {self.config.policy!r} has no eps")
        lambda_2, lambda_max = laplacian_extremes(graph)
        predicted = 1.0 - eps * lambda_2
        series = self.datacollector.get_model_vars_dataframe()["disagreement"].to_numpy()
        k = np.arange(len(series))
        envelope = series[0] * predicted ** np.maximum(k - 1, 0)
        return {
            "lambda_2": lambda_2,
            "lambda_max": lambda_max,
            "eps": eps,
            "eps_lambda_max": eps * lambda_max,
            "predicted_rate": predicted,
            "measured_rate": measured_rate(series),
            "bound_holds": bool(np.all(series <= envelope * (1 + 1e-9) + 1e-300)),
        }
