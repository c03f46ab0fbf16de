"""Go to goal: fly straight at the own goal at top speed, and brake to stop on it.

The crossing scenario's default controller (:mod:`envs.crossing`) and the "preferred
velocity" of the collision-avoidance literature (van den Berg, Guy, Lin, Manocha 2011: an
agent's preferred velocity points at its goal). It looks
at nothing but its own position and goal (``obs.own["goal"]``), so it collides with
everyone on the way: the point of the scenario is what a safety layer
(``safety = "orca"``, :mod:`swarm.safety`) makes of it.

Velocity command, row by row, in the plane or in 3-D (``dim = 3``: the crossing on a sphere)::

    d = goal - pos                       (minimum image on a torus)
    v = d / |d| * min(speed, |d| / dt, sqrt(2 decel |d|))

``|d| / dt`` lands exactly on the goal in the last step; ``sqrt(2 decel |d|)`` is the speed
from which braking at ``decel`` stops on it (with a finite ``max_accel``, keep ``decel`` at
or below it).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy
from swarm.safety import own_max_speed


class GoToParams(StrictConfig):
    speed: float | None = Field(
        None, gt=0, description="cruise speed (m/s); default the drone's own max_speed"
    )
    decel: float = Field(
        3.0, gt=0, allow_inf_nan=True, description="deceleration it plans to stop with (m/s^2)"
    )


class GoTo(Policy):
    """Straight at the own goal (see the module docstring)."""

    name = "goto"
    citation = "van den Berg, Guy, Lin, Manocha (2011), Robotics Research, STAR 70 (v_pref)"
    action_kind = "velocity"
    Params = GoToParams
    scenario = "crossing"
    scenarios = ("crossing",)  # it reads obs.own["goal"]
    dims = (2, 3)  # straight at the goal in any dimension (the rows' norms, not x and y)

    def act(self, obs: LocalObservation) -> np.ndarray:
        offset = np.asarray(obs.own["goal"], dtype=np.float64) - obs.pos
        if obs.torus:
            offset -= obs.world_size * np.rint(offset / obs.world_size)
        dist = np.sqrt((offset**2).sum(axis=1))
        top = own_max_speed(obs) if self.params.speed is None else self.params.speed
        speed = np.minimum(np.minimum(top, dist / obs.dt), np.sqrt(2.0 * self.params.decel * dist))
        out = offset * (speed / np.maximum(dist, 1e-300))[:, None]
        out[~obs.alive] = 0.0
        return out
