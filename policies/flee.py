"""Flee: run straight away from the nearest pursuer in sight, sliding along walls.

The classic evader baseline of pursuit–evasion (the evader's optimal heading in Isaacs'
one-on-one pursuit at equal speed in the open plane is directly away from the pursuer:
R. Isaacs, "Differential Games", Wiley, 1965). In a bounded arena running straight away
ends at a wall, so the part of the velocity that would carry the evader through a wall within
this step is cut to what reaches the wall: at the wall it slides along it instead of pushing
into it. With no pursuer in sight it stays still.
"""

from __future__ import annotations

import numpy as np

from policies.greedy_pursuit import PursuitPolicy, at_speed, team_codes
from swarm.observation import LocalObservation
from swarm.teams import nearest_of_team


def slide_along_walls(vel: np.ndarray, pos: np.ndarray, world: float, dt: float) -> np.ndarray:
    """(R, dim) ``vel`` with each outward component cut so the step ends at the wall of the
    box ``[0, world]^dim`` (zero at or beyond it; in 3-D the floor and ceiling are walls);
    components along the wall are kept."""
    low = np.minimum(0.0, -pos / dt)  # most negative speed that stays inside
    high = np.maximum(0.0, (world - pos) / dt)
    return np.clip(vel, low, high)


class Flee(PursuitPolicy):
    name = "flee"
    citation = "Isaacs, R. (1965). Differential Games. Wiley (evader's heading: away)."
    dims = (2, 3)  # away from the pursuer in any dimension

    def act(self, obs: LocalObservation) -> np.ndarray:
        pursuer, _ = team_codes(obs)
        nb = obs.neighbors
        near = nearest_of_team(nb, pursuer)
        seen = near >= 0
        away = np.zeros((obs.n, obs.pos.shape[1]))
        away[seen] = -nb.rel_pos[near[seen]]
        out = slide_along_walls(
            at_speed(away, obs.own["max_speed"]), obs.pos, obs.world_size, obs.dt
        )
        out[~obs.alive] = 0.0
        return out
