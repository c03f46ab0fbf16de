"""Particle swarm optimisation: a pure core, and drones that climb a signal with it.

J. Kennedy, R. Eberhart, "Particle swarm optimization", Proc. ICNN 1995; with the
constriction coefficients of M. Clerc, J. Kennedy, "The particle swarm - explosion,
stability, and convergence in a multidimensional complex space", IEEE Trans. Evolutionary
Computation 6(1), 58-73, 2002 (chi = 0.7298 with phi = 4.1), in the inertia form of
R. C. Eberhart, Y. Shi, "Comparing inertia weights and constriction factors in particle
swarm optimization", CEC 2000:

    v <- w v + c1 r1 (p - x) + c2 r2 (g - x),   x <- x + v,
    w = 0.7298, c1 = c2 = 1.49618, r1, r2 ~ U[0, 1] per dimension

``p``: the particle's best position so far; ``g``: the best of its neighbourhood.

:func:`pso_minimize` is the algorithm on its own (tested on the standard functions);
:class:`PSO` flies it: each drone is a particle in the plane maximising the signal it
measures at its own position (``obs.own["signal"]``); its personal best is per-agent memory
(updated in ``commit``); its neighbourhood best comes only from its comm neighbours, who
broadcast their personal bests (Kennedy and Mendes 2002 "lbest" with the comm graph as the
topology). One control step is one PSO iteration; the velocity term uses the drone's own
measured velocity, and the attraction is scaled by ``1 / iteration_time`` to a speed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Decision, Policy
from swarm.rng import keyed_uniform

W = 0.7298  # constriction factor chi (Clerc and Kennedy 2002, eq. 4.15 with phi = 4.1)
C1 = C2 = 1.49618  # chi * phi / 2


def pso_minimize(
    f: Callable[[np.ndarray], np.ndarray],
    dim: int,
    bounds: tuple[float, float],
    n_particles: int = 30,
    iterations: int = 1000,
    seed: int = 0,
    topology: Literal["global", "ring"] = "global",
    v_max: float | None = None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Minimise ``f`` (a batch function (P, dim) -> (P,)) over the box ``bounds``^dim.

    Returns (best position, best value, best value after each iteration). ``v_max``
    defaults to the box width (Eberhart and Shi 2000: Vmax = Xmax works best with
    constriction).
    """
    rng = np.random.default_rng(seed)
    low, high = bounds
    v_max = v_max if v_max is not None else high - low
    x = rng.uniform(low, high, size=(n_particles, dim))
    v = rng.uniform(-v_max, v_max, size=(n_particles, dim))
    p, p_val = x.copy(), f(x)
    history = np.empty(iterations)
    for k in range(iterations):
        if topology == "global":
            g = np.broadcast_to(p[np.argmin(p_val)], p.shape)
        else:  # ring of radius 1: self and the two index neighbours
            ring = np.stack([np.roll(p_val, 1), p_val, np.roll(p_val, -1)])
            pick = np.argmin(ring, axis=0) - 1
            g = p[(np.arange(n_particles) + pick) % n_particles]
        r1 = rng.random((n_particles, dim))
        r2 = rng.random((n_particles, dim))
        v = np.clip(W * v + C1 * r1 * (p - x) + C2 * r2 * (g - x), -v_max, v_max)
        x = x + v
        val = f(x)
        better = val < p_val
        p[better], p_val[better] = x[better], val[better]
        history[k] = p_val.min()
    best = int(np.argmin(p_val))
    return p[best], float(p_val[best]), history


class PSOParams(StrictConfig):
    iteration_time: float = Field(
        1.0, gt=0, description="seconds to close the attraction term's gap (s)"
    )


class PSO(Policy):
    name = "pso"
    citation = (
        "Kennedy, J., Eberhart, R. (1995). Proc. ICNN; constriction: Clerc, M., Kennedy, J. "
        "(2002). IEEE TEC 6(1), 58-73; w = 0.7298, c1 = c2 = 1.49618 (Eberhart, Shi 2000)."
    )
    action_kind = "velocity"
    message_dim = 3  # personal best: x, y, value
    scenario = "search"
    scenarios = ("search",)  # reads the search task's readings
    Params = PSOParams

    memory_fields = ("best_pos", "best_val")  # per drone, sliced by the locality audit

    def __init__(self, params: StrictConfig | None = None, seed: int = 0, **overrides):
        super().__init__(params, seed, **overrides)
        self.best_pos = np.zeros((0, 2))  # (R, 2) personal best position (m)
        self.best_val = np.zeros(0)  # (R,) signal measured there

    def personal_best(self, obs: LocalObservation) -> tuple[np.ndarray, np.ndarray]:
        """Memory updated with this step's reading (returned, not stored: the model keeps
        it once the step is applied)."""
        best_pos, best_val = self.best_pos, self.best_val
        if len(best_val) != obs.n:  # before the first step
            best_pos, best_val = obs.pos.copy(), np.full(obs.n, -np.inf)
        reading = obs.own["signal"]
        better = obs.alive & (reading > best_val)
        pos = np.where(better[:, None], obs.pos, best_pos)
        return pos, np.where(better, reading, best_val)

    def decide(self, obs: LocalObservation, messages: bool = True) -> Decision:
        """The personal best, computed once, gives the pull, the broadcast and the memory."""
        p, p_val = self.personal_best(obs)
        broadcast = np.column_stack([p, p_val]) if messages else None
        return Decision(self._velocity(obs, p, p_val), broadcast, {},
                        {"best_pos": p, "best_val": p_val})  # fmt: skip

    def act(self, obs: LocalObservation) -> np.ndarray:
        return self._velocity(obs, *self.personal_best(obs))

    def _velocity(self, obs: LocalObservation, p: np.ndarray, p_val: np.ndarray) -> np.ndarray:
        # neighbourhood best: own best and what comm neighbours broadcast last step
        inbox = obs.inbox
        g_val = p_val.copy()
        np.maximum.at(g_val, inbox.owner, inbox.msg[:, 2])
        from_inbox = inbox.msg[:, 2] == g_val[inbox.owner]
        g = p.copy()
        g[inbox.owner[from_inbox]] = inbox.msg[from_inbox, :2]
        rows = obs.ids[:, None]  # each drone's own random stream
        dims = np.arange(2)[None, :]
        r1 = keyed_uniform(self.seed, obs.step, rows, dims, 1)
        r2 = keyed_uniform(self.seed, obs.step, rows, dims, 2)
        pull = C1 * r1 * (p - obs.pos) + C2 * r2 * (g - obs.pos)
        out = W * obs.vel + pull / self.params.iteration_time
        out[~obs.alive] = 0.0
        return out

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        p, p_val = self.personal_best(obs)
        return np.column_stack([p, p_val])
