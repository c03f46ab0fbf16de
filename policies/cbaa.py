"""Region allocation by a consensus-based auction, then a lawnmower sweep of each region.

H.-L. Choi, L. Brunet, J. P. How, "Consensus-based decentralized auctions for robust task
assignment", IEEE Trans. Robotics 25(4), 912-926, 2009: the consensus-based auction
algorithm (CBAA, Algorithms 1 and 2), one task per agent at a time:

1. auction: a drone without a region bids ``c_ij`` on every region j it can still win
   (``c_ij > y_ij``, the highest bid it knows) and takes the best (Alg. 1);
2. consensus: every drone broadcasts its known highest bids ``y_i`` and their winners
   ``z_i``; a receiver keeps, per region, the highest bid it hears (ties: lower drone
   index), ``y_ij <- max_k y_kj`` (Alg. 2); a drone that sees itself outbid releases its
   region and bids again.

Regions are the cells of a ``regions_per_side`` x ``regions_per_side`` partition of the
arena; the bid is ``1 / (1 + distance to the region's centre / region side)``, fixed when
placed. Swept regions are flooded as a ``done`` flag (OR over the inbox) and leave the
auction, so a drone that finishes a region re-enters it for the regions still open (task
completion is this module's addition to CBAA). A region is swept along a boustrophedon path
with lanes ``lane_factor * 2 * detect_radius`` apart. Not implemented: CBBA's bundles
(several regions per drone at once, Choi et al. Alg. 3-4) and the expiry of a crashed
winner's bid (its region then stays claimed).

Everything a drone knows (bids, winners, done flags, its region and its place on the path)
is per-agent memory on this policy, updated in ``commit``; ``act`` and ``broadcast`` are
pure functions of the observation and that memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Decision, Policy


class CBAAParams(StrictConfig):
    regions_per_side: int = Field(4, ge=1, le=12, description="the arena is split n x n")
    lane_factor: float = Field(
        0.9, gt=0, le=1, description="lane spacing as a share of the detection width 2 r"
    )
    waypoint_tolerance: float = Field(0.3, gt=0, description="a waypoint is reached within (m)")


def lawnmower(world_size: float, per_side: int, lane: float) -> np.ndarray:
    """(M, L, 2) boustrophedon waypoints of each region (all regions share one shape)."""
    side = world_size / per_side
    lanes = max(1, int(np.ceil(side / lane)))
    xs = (np.arange(lanes) + 0.5) * (side / lanes)
    y_lo, y_hi = min(lane / 2, side / 2), max(side - lane / 2, side / 2)
    ys = np.where(np.arange(lanes) % 2 == 0, 0, 1)
    path = np.empty((2 * lanes, 2))
    path[0::2, 0] = path[1::2, 0] = xs
    path[0::2, 1] = np.where(ys == 0, y_lo, y_hi)
    path[1::2, 1] = np.where(ys == 0, y_hi, y_lo)
    ix, iy = np.meshgrid(np.arange(per_side), np.arange(per_side), indexing="ij")
    corner = np.column_stack([ix.ravel(), iy.ravel()]) * side  # (M, 2)
    return corner[:, None, :] + path[None, :, :]


class CBAA(Policy):
    name = "cbaa"
    citation = (
        "Choi, H.-L., Brunet, L., How, J. P. (2009). IEEE T-RO 25(4), 912-926, "
        "CBAA (Algorithms 1 and 2)."
    )
    action_kind = "velocity"
    scenario = "search"
    scenarios = ("search",)  # reads the search task's readings
    Params = CBAAParams

    memory_fields = ("memory",)  # (R, ...) arrays per drone, sliced by the locality audit

    def __init__(self, params: StrictConfig | None = None, seed: int = 0, **overrides: Any):
        super().__init__(params, seed, **overrides)
        self.n_regions = self.params.regions_per_side**2
        self.message_dim = 3 * self.n_regions  # bids y, winners z, done flags
        self.memory: dict[str, np.ndarray] = {}

    def _memory(self, n: int) -> dict[str, np.ndarray]:
        """The memory to start this step from (a fresh one before the first step)."""
        if not self.memory or len(self.memory["task"]) != n:
            M = self.n_regions
            return {
                "y": np.zeros((n, M)),  # (R, M) highest bid known per region
                "z": np.full((n, M), -1.0),  # (R, M) its bidder (row), -1: none
                "done": np.zeros((n, M), dtype=bool),  # (R, M) regions known swept
                "task": np.full(n, -1, dtype=np.int64),  # (R,) own region, -1: none
                "waypoint": np.zeros(n, dtype=np.int64),  # (R,) next waypoint on its path
            }
        return self.memory

    def auction(self, obs: LocalObservation) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(new memory, velocity command): consensus, release, sweep progress, auction."""
        mem = self._memory(obs.n)
        p = self.params
        per_side = p.regions_per_side
        M = self.n_regions
        rows = np.arange(obs.n)  # batch positions, for indexing
        me = obs.ids.astype(np.float64)  # each drone's identity, as the bids carry it
        alive = obs.alive
        y, z, done = mem["y"].copy(), mem["z"].copy(), mem["done"].copy()
        task, waypoint = mem["task"].copy(), mem["waypoint"].copy()
        # consensus (Alg. 2): highest bid per region, ties to the lower index; OR of done
        inbox = obs.inbox
        if len(inbox.sender):
            msg_y = inbox.msg[:, :M]
            msg_z = inbox.msg[:, M : 2 * M]
            msg_done = inbox.msg[:, 2 * M :] > 0.5
            np.logical_or.at(done, inbox.owner, msg_done)
            np.maximum.at(y, inbox.owner, msg_y)
            own_z = np.where(mem["y"] == y, mem["z"], np.inf)
            cand_z = np.where(msg_y == y[inbox.owner], msg_z, np.inf)
            np.minimum.at(own_z, inbox.owner, cand_z)
            z = np.where(np.isfinite(own_z), own_z, -1.0)
        # release a region lost in the auction or swept by someone else
        has = task >= 0
        t = np.where(has, task, 0)
        lost = has & ((z[rows, t] != me) | done[rows, t])
        task[lost], waypoint[lost] = -1, 0
        # sweep progress; the last waypoint reached marks the region done
        paths = lawnmower(obs.world_size, per_side, p.lane_factor * 2 * obs.known["detect_radius"])
        L = paths.shape[1]
        has = task >= 0
        t = np.where(has, task, 0)
        target = paths[t, np.minimum(waypoint, L - 1)]
        reached = has & (np.sqrt(((target - obs.pos) ** 2).sum(axis=1)) < p.waypoint_tolerance)
        waypoint[reached] += 1
        finished = reached & (waypoint >= L)
        done[rows[finished], t[finished]] = True
        task[finished], waypoint[finished] = -1, 0
        # auction (Alg. 1): a free drone bids on the best open region it can win
        side = obs.world_size / per_side
        centres = paths.mean(axis=1)  # (M, 2) region centres
        dist = np.sqrt(((obs.pos[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))
        bid = 1.0 / (1.0 + dist / side)
        winnable = ~done & ((bid > y) | ((bid == y) & ((z < 0) | (me[:, None] < z))))
        free = alive & (task < 0) & winnable.any(axis=1)
        choice = np.argmax(np.where(winnable, bid, -np.inf), axis=1)
        fr = rows[free]
        task[fr], waypoint[fr] = choice[fr], 0
        y[fr, choice[fr]] = bid[fr, choice[fr]]
        z[fr, choice[fr]] = me[fr]
        # fly the sweep
        has = task >= 0
        t = np.where(has, task, 0)
        target = paths[t, np.minimum(waypoint, L - 1)]
        gap = target - obs.pos
        norm = np.sqrt((gap**2).sum(axis=1))
        speed = np.minimum(obs.max_speed, norm / obs.dt)
        velocity = np.where((has & alive)[:, None], gap / np.maximum(norm, 1e-12)[:, None], 0.0)
        velocity *= speed[:, None]
        keep = ~alive
        new = {"y": y, "z": z, "done": done, "task": task, "waypoint": waypoint}
        for name, old in mem.items():  # a crashed drone's memory freezes
            new[name][keep] = old[keep]
        return new, velocity

    def decide(self, obs: LocalObservation, messages: bool = True) -> Decision:
        """One auction round gives the velocity, the broadcast and the new memory."""
        new, velocity = self.auction(obs)
        broadcast = None
        if messages:
            broadcast = np.concatenate([new["y"], new["z"], new["done"].astype(float)], axis=1)
        return Decision(velocity, broadcast, {}, {"memory": new})

    def act(self, obs: LocalObservation) -> np.ndarray:
        return self.auction(obs)[1]

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        decision = self.decide(obs)
        assert decision.messages is not None
        return decision.messages
