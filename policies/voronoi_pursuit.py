"""Cooperative pursuit with Voronoi partitions: shrink the evader's cell.

Z. Zhou, W. Zhang, J. Ding, H. Huang, D. M. Stipanović, C. J. Tomlin, "Cooperative pursuit
with Voronoi partitions", Automatica 72, 64-72, 2016; for several evaders, A. Pierson,
Z. Wang, M. Schwager, "Intercepting rogue robots: an algorithm for capturing multiple evaders
with multiple pursuers", IEEE Robotics and Automation Letters 2(2), 2017.

Pursuers and evaders are the sites of a Voronoi partition of the arena. The area ``A`` of an
evader's cell falls fastest when each pursuer that shares an edge with it moves at full speed
towards that edge's midpoint: ``dA/dp_i = -(L_i / |p_i - e|) (C_i - p_i)`` for an edge of
length ``L_i`` and midpoint ``C_i`` (moving the bisector sweeps the edge). The cell cannot
shrink below a small disk around the evader until a pursuer is within capture range, so the
area argument bounds the capture time.

Here each pursuer computes, for every evader it senses, the edge it shares with that evader
among all the sites it senses (pursuers and evaders), clipped to the arena and to the disk of
radius ``r = range_fraction * sense_radius`` around itself. With ``r <= R / 2`` that edge is
exact under limited sensing: a site that cuts it within ``r`` lies within ``2r <= R``. A
sensor that covers the whole arena (``R >= sqrt(2)`` times its side) sees every site, so
then the edge is not clipped to a disk at all (the papers' global setting).

The rule: towards the midpoint of the nearest non-empty shared edge (several evaders: the
nearest midpoint, as in Pierson et al.); no shared edge: towards the nearest evader; no
evader in sight: hold the course (as greedy pursuit).
"""

from __future__ import annotations

import numba
import numpy as np
from pydantic import Field

from policies.greedy_pursuit import (
    BlindParams,
    PursuitPolicy,
    at_speed,
    team_codes,
    team_range,
    when_blind,
)
from swarm.geometry import bisector_edge
from swarm.observation import LocalObservation


class VoronoiPursuitParams(BlindParams):
    range_fraction: float = Field(
        0.5, gt=0, le=0.5,
        description="edges are clipped to r = range_fraction * sense_radius around the "
        "pursuer (<= 1/2 to be exact); not clipped when the sensor covers the arena",
    )  # fmt: skip


@numba.njit(cache=True)
def _targets(ptr, seg_row, rel_pos, dist, team, own_team, alive, pos, world, radius, me,
             evader, goal, kind):  # fmt: skip
    """Per pursuer row: ``goal`` relative to itself and ``kind`` 1 (an edge midpoint),
    2 (the nearest evader, no shared edge) or 0 (no evader sensed)."""
    for s in range(seg_row.shape[0]):
        row = seg_row[s]
        if not alive[row] or own_team[row] != me:
            continue
        lo = ptr[s]
        hi = ptr[s + 1]
        xmin = -pos[row, 0]
        ymin = -pos[row, 1]
        best = np.inf
        nearest = np.inf
        for e in range(lo, hi):
            if team[e] != evader:
                continue
            if dist[e] < nearest:
                nearest = dist[e]
                if kind[row] != 1:
                    goal[row, 0] = rel_pos[e, 0]
                    goal[row, 1] = rel_pos[e, 1]
                    kind[row] = 2
            mx, my, dx, dy, t0, t1 = bisector_edge(
                rel_pos[e, 0], rel_pos[e, 1], rel_pos, lo, hi, e,
                xmin, ymin, xmin + world, ymin + world, radius,
            )  # fmt: skip
            if t0 >= t1:
                continue
            t = 0.5 * (t0 + t1)
            cx = mx + t * dx
            cy = my + t * dy
            d2 = cx * cx + cy * cy
            if d2 < best:
                best = d2
                goal[row, 0] = cx
                goal[row, 1] = cy
                kind[row] = 1


class VoronoiPursuit(PursuitPolicy):
    name = "voronoi_pursuit"
    citation = (
        "Zhou, Z., Zhang, W., Ding, J., Huang, H., Stipanović, D. M., Tomlin, C. J. (2016). "
        "Cooperative pursuit with Voronoi partitions. Automatica 72, 64-72; several evaders: "
        "Pierson, A., Wang, Z., Schwager, M. (2017). Intercepting rogue robots. IEEE RA-L 2(2)."
    )
    Params = VoronoiPursuitParams

    def act(self, obs: LocalObservation) -> np.ndarray:
        pursuer, evader = team_codes(obs)
        nb = obs.neighbors
        sense, global_view = team_range(obs, pursuer)  # this team's own range
        radius = np.inf if global_view else self.params.range_fraction * sense
        goal = np.zeros((obs.n, 2))
        kind = np.zeros(obs.n, dtype=np.int8)
        _targets(
            nb.ptr, nb.seg_row, np.ascontiguousarray(nb.rel_pos), nb.dist, nb.team,
            obs.own["team"], obs.alive, obs.pos, float(obs.world_size), float(radius),
            pursuer, evader, goal, kind,
        )  # fmt: skip
        blind = (kind == 0) & obs.alive & (obs.own["team"] == pursuer)
        return when_blind(self, obs, blind, at_speed(goal, obs.own["max_speed"]))
