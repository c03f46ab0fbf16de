"""Voronoi evasion: move to the centroid of one's own Voronoi cell.

The evader strategy of the experiments of A. Pierson, Z. Wang, M. Schwager, "Intercepting
rogue robots: an algorithm for capturing multiple evaders with multiple pursuers", IEEE
Robotics and Automation Letters 2(2), 2017. That attribution comes from a third-party
reproduction of the paper and has not been checked against the paper's text.

The centroid is the point of the cell farthest, on average, from its boundary, where the
pursuers press: moving there keeps the evader's cell (its safe region) balanced. The cell's
sites are everything the evader senses, pursuers and evaders; it is clipped to the arena and
to the regular ``sides``-gon of radius ``r = range_fraction * sense_radius`` around the
evader, inside which the cell is exact under limited sensing (``r <= R / 2``, as in
``policies/lloyd.py``); a sensor that covers the whole arena needs no such clip. The evader
moves at full speed but does not overshoot the centroid; with no pursuer in sight it stays
still.
"""

from __future__ import annotations

import numba
import numpy as np
from pydantic import Field

from policies.greedy_pursuit import PursuitPolicy, at_speed, team_codes, team_range
from swarm.config import StrictConfig
from swarm.geometry import area_centroid, cell
from swarm.observation import LocalObservation


class VoronoiEvadeParams(StrictConfig):
    range_fraction: float = Field(
        0.5, gt=0, le=0.5,
        description="cells are clipped to a polygon of radius range_fraction * sense_radius "
        "(<= 1/2 to be exact); not clipped when the sensor covers the arena",
    )  # fmt: skip
    sides: int = Field(
        16, ge=3, description="sides of the regular polygon that stands in for the disk"
    )


@numba.njit(cache=True)
def _centroids(ptr, seg_row, rel_pos, team, own_team, alive, pos, world, radius, sides, me,
               pursuer, out):  # fmt: skip
    """Per evader row that senses a pursuer: its cell's centroid, relative to itself."""
    widest = 0
    for s in range(seg_row.shape[0]):
        widest = max(widest, ptr[s + 1] - ptr[s])
    size = 5 + sides + widest  # a convex polygon gains at most one vertex per cut
    xs = np.empty(size)
    ys = np.empty(size)
    tx = np.empty(size)
    ty = np.empty(size)
    for s in range(seg_row.shape[0]):
        row = seg_row[s]
        if not alive[row] or own_team[row] != me:
            continue
        lo = ptr[s]
        hi = ptr[s + 1]
        threatened = False
        for e in range(lo, hi):
            if team[e] == pursuer:
                threatened = True
                break
        if not threatened:
            continue
        xmin = -pos[row, 0]
        ymin = -pos[row, 1]
        n = cell(rel_pos, lo, hi, xmin, ymin, xmin + world, ymin + world, radius, sides,
                 xs, ys, tx, ty)  # fmt: skip
        _, cx, cy = area_centroid(xs, ys, n)
        out[row, 0] = cx
        out[row, 1] = cy


class VoronoiEvade(PursuitPolicy):
    name = "voronoi_evade"
    citation = (
        "Pierson, A., Wang, Z., Schwager, M. (2017). Intercepting rogue robots. IEEE RA-L "
        "2(2) (evader strategy of its experiments, as reproduced by a third party)."
    )
    Params = VoronoiEvadeParams

    def act(self, obs: LocalObservation) -> np.ndarray:
        pursuer, evader = team_codes(obs)
        nb = obs.neighbors
        sense, global_view = team_range(obs, evader)  # this team's own range
        sides = 0 if global_view else self.params.sides
        radius = self.params.range_fraction * sense
        goal = np.zeros((obs.n, 2))
        _centroids(
            nb.ptr, nb.seg_row, np.ascontiguousarray(nb.rel_pos), nb.team, obs.own["team"],
            obs.alive, obs.pos, float(obs.world_size), float(radius), sides, evader, pursuer,
            goal,
        )  # fmt: skip
        # full speed, but no farther than the centroid in one step
        speed = np.minimum(obs.own["max_speed"], np.hypot(goal[:, 0], goal[:, 1]) / obs.dt)
        return at_speed(goal, speed)
