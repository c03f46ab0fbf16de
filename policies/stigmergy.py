"""Stigmergic search by node counting: go where the fewest drones have been.

S. Koenig, B. Szymanski, Y. Liu, "Efficient and inefficient ant coverage methods", Annals
of Mathematics and Artificial Intelligence 31, 41-76, 2001, sec. 3 (node counting): each
visit to a cell increments a mark on the cell; a drone moves to the neighbouring cell whose
mark is smallest. The marks are the scenario's ``obs.own["marks"]``, a 3 x 3 block around
the drone's own cell (3 x 3 x 3 in a 3-D region: the 26 cells around it, the same rule on a
cubic grid), written only by drones entering a cell and read only by drones next to
it: coordination through the environment, no messages (ant-style stigmergy). Ties go to a
keyed random choice of (seed, row, cell), fixed while the drone stays in its cell.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy
from swarm.rng import keyed_uniform


def _moves(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The 3^dim - 1 neighbouring cells of the block around a cell, as offsets (k, dim) and
    flat indices into the block (C order, as the marks are read)."""
    offsets = np.array(np.meshgrid(*[(-1, 0, 1)] * dim, indexing="ij")).reshape(dim, -1).T
    offsets = offsets[np.any(offsets != 0, axis=1)]
    return offsets, np.ravel_multi_index(tuple((offsets + 1).T), [3] * dim)


_MOVES = {dim: _moves(dim) for dim in (2, 3)}


class StigmergyParams(StrictConfig):
    speed: float | None = Field(None, gt=0, description="cruise speed (m/s); default max_speed")


class Stigmergy(Policy):
    name = "stigmergy"
    citation = "Koenig, S., Szymanski, B., Liu, Y. (2001). Ann. Math. AI 31, 41-76 (node counting)."
    action_kind = "velocity"
    scenario = "search"
    scenarios = ("search",)  # reads the search task's readings
    Params = StigmergyParams
    dims = (2, 3)

    def act(self, obs: LocalObservation) -> np.ndarray:
        cell = obs.known["mark_cell"]
        dim = obs.pos.shape[1]
        moves, flat = _MOVES[dim]
        marks = obs.own["marks"].reshape(obs.n, 3**dim)[:, flat]  # (R, 3^dim - 1)
        own_cell = np.floor(obs.pos / cell).astype(np.int64)
        key = own_cell[:, 0] * 1_000_003 + own_cell[:, 1]
        if dim == 3:
            key = key * 1_000_003 + own_cell[:, 2]
        rows = obs.ids  # each drone's own random stream
        jitter = keyed_uniform(
            self.seed, rows[:, None], key[:, None], np.arange(len(moves))[None, :]
        )
        choice = np.argmin(marks + 0.5 * jitter, axis=1)  # marks are integers: jitter ties only
        goal = (own_cell + moves[choice] + 0.5) * cell
        direction = goal - obs.pos
        norm = np.sqrt((direction**2).sum(axis=1))
        speed = self.params.speed or obs.max_speed
        out = speed * direction / np.maximum(norm, 1e-12)[:, None]
        out[~obs.alive | ~np.isfinite(marks).any(axis=1)] = 0.0
        return out
