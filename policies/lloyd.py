"""Coverage control by Lloyd descent on range-limited Voronoi cells.

J. Cortés, S. Martínez, T. Karataş, F. Bullo, "Coverage control for mobile sensing
networks", IEEE Trans. Robotics and Automation 20(2), 243-255, 2004: each drone moves towards
the centroid of its Voronoi cell, ``u_i = -k (p_i - C_{V_i})`` (eq. 9; the discrete-time
form is Lloyd's algorithm, sec. III-B), which descends the locational cost
``H = sum_i int_{V_i} ||q - p_i||^2 phi(q) dq``.

A drone cannot compute its full Voronoi cell from neighbours it senses within radius R.
It can compute exactly the r-limited cell ``V_i ∩ B(p_i, r)`` for ``r <= R / 2`` (any drone
closer than i to a point within r of i is within 2r <= R of i: triangle inequality); moving
to the centroid of that cell descends the range-limited cost
``H_r = int min(min_i ||q - p_i||^2, r^2) phi(q) dq`` (J. Cortés, S. Martínez, F. Bullo,
"Spatially-distributed coverage optimization and control with limited-range interactions",
ESAIM: COCV 11, 691-719, 2005). With R large enough the r-limited cells are the Voronoi
cells and this is Lloyd's algorithm itself.

The region is the scenario's discretised map (``obs.known["region"]``); each drone looks
only at the cells within r of itself and assigns each to the nearest of itself and the
neighbours it senses. A step moves ``step_fraction`` of the way to the centroid, which for a
kinematic drone lands on the segment to it, so ``H_r`` never increases.
"""

from __future__ import annotations

import numba
import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy


class LloydParams(StrictConfig):
    step_fraction: float = Field(
        0.5, gt=0, le=1, description="share of the way to the centroid moved per step"
    )
    range_fraction: float = Field(
        0.5, gt=0, le=0.5, description="r = range_fraction * sense_radius (<= 1/2 to be exact)"
    )


def disk_offsets(radius_cells: float) -> np.ndarray:
    """(K, 2) integer cell offsets that can hold a cell centre within the radius."""
    reach = int(np.ceil(radius_cells)) + 1
    span = np.arange(-reach, reach + 1)
    ox, oy = np.meshgrid(span, span, indexing="ij")
    keep = np.hypot(np.maximum(np.abs(ox) - 1, 0), np.maximum(np.abs(oy) - 1, 0)) <= radius_cells
    return np.column_stack([ox[keep], oy[keep]])


@numba.njit(cache=True)
def _limited_cells(ptr, seg_row, rel_pos, pos, alive, offsets, cell, weight, r, out, mass):
    """For each drone (segment): weighted moments of the cells within r that are nearer to
    it than to any neighbour it senses. ``out``: centroid relative to the drone."""
    per_side = weight.shape[0]
    for s in range(seg_row.shape[0]):
        row = seg_row[s]
        if not alive[row]:
            continue
        bx = int(np.floor(pos[row, 0] / cell))
        by = int(np.floor(pos[row, 1] / cell))
        m = 0.0
        mx = 0.0
        my = 0.0
        for k in range(offsets.shape[0]):
            ix = bx + offsets[k, 0]
            iy = by + offsets[k, 1]
            if ix < 0 or iy < 0 or ix >= per_side or iy >= per_side:
                continue
            qx = (ix + 0.5) * cell - pos[row, 0]
            qy = (iy + 0.5) * cell - pos[row, 1]
            d_self = qx * qx + qy * qy
            if d_self > r * r:
                continue
            mine = True
            for e in range(ptr[s], ptr[s + 1]):
                dx = qx - rel_pos[e, 0]
                dy = qy - rel_pos[e, 1]
                if dx * dx + dy * dy <= d_self:
                    mine = False
                    break
            if mine:
                w = weight[ix, iy]
                m += w
                mx += w * qx
                my += w * qy
        mass[row] = m
        if m > 0:
            out[row, 0] = mx / m
            out[row, 1] = my / m


def limited_cell_centroids(obs: LocalObservation, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Per drone: (centroid relative to itself (R, 2), mass (R,)) of its r-limited cell.

    A cell at equal distance from the drone and a neighbour goes to neither (measure zero
    in the continuum; on the grid it keeps the cells of coinciding drones from counting
    twice)."""
    region = obs.known["region"]
    nb = obs.neighbors
    centroid = np.zeros((obs.n, 2))
    mass = np.zeros(obs.n)
    _limited_cells(
        nb.ptr, nb.seg_row, np.ascontiguousarray(nb.rel_pos), obs.pos, obs.alive,
        disk_offsets(r / region.cell), region.cell, region.weight, r, centroid, mass,
    )  # fmt: skip
    return centroid, mass


class Lloyd(Policy):
    name = "lloyd"
    citation = (
        "Cortés, J., Martínez, S., Karataş, T., Bullo, F. (2004). IEEE TRA 20(2), 243-255, "
        "eq. (9); range-limited cells: Cortés, Martínez, Bullo (2005), ESAIM COCV 11."
    )
    action_kind = "velocity"
    scenario = "coverage"
    scenarios = ("coverage",)  # reads the coverage task's readings
    Params = LloydParams

    def act(self, obs: LocalObservation) -> np.ndarray:
        r = self.params.range_fraction * obs.sense_radius
        centroid, _ = limited_cell_centroids(obs, r)
        step = self.params.step_fraction * centroid
        speed = np.sqrt((step**2).sum(axis=1)) / obs.dt
        scale = np.minimum(1.0, obs.max_speed / np.maximum(speed, 1e-300))
        out = step / obs.dt * scale[:, None]
        out[~obs.alive] = 0.0
        return out
