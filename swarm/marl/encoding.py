"""Observations and state as flat vectors of named segments.

:class:`Layout` names the segments of a vector; :class:`ObservationEncoder` is the envs'
observation function (one compiled pass over the engine's neighbour table, kernels below);
:func:`state_layout` is the global state of one env (for centralised critics).

Frames. ``frame="world"`` (the default) gives every vector on the arena's axes plus the
absolute ``own_pos``. ``frame="body"`` drops ``own_pos`` and turns every vector into the
drone's own frame, x along its velocity (in 3-D: yaw only, from the horizontal velocity; z
stays up), world axes where it hovers: a policy then reads the same numbers wherever the
swarm is and whichever way it flies, so it cannot learn a compass heading or an arena
position, and its actions (given in that frame) go back to world axes through
:func:`body_to_world`. The frame is a function of the drone's own velocity alone (no memory),
so the locality contract is untouched.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import gymnasium
import numba
import numpy as np

from swarm.config import ConfigError
from swarm.marl.config import EnvConfig, _speed_bound
from swarm.neighbors import insert_k_best
from swarm.observation import LocalObservation
from swarm.scenario import Scenario, Segment

NOISE_SIGMAS = 5.0  # observation bounds widen by this many sensor-noise standard deviations
# below this horizontal speed (m/s) a drone has no heading: its body frame is the world's
# axes (a hovering drone reads, and acts, as in the world frame)
HOVER_SPEED = 1e-6
Frame = Literal["world", "body"]
# the encoder's own segments, in the order _encode_engine reads their first columns
_ENGINE_SEGMENTS = (
    "own_pos",
    "own_vel",
    "neighbor_rel_pos",
    "neighbor_rel_vel",
    "neighbor_mask",
    "inbox_mask",
    "inbox",
)


@dataclass(frozen=True)
class Layout:
    """A flat vector as named segments: name -> slice, shape and range."""

    segments: tuple[Segment, ...]
    slices: dict[str, slice] = field(init=False)
    size: int = field(init=False)
    _low: np.ndarray = field(init=False, repr=False)
    _high: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        slices, start = {}, 0
        for seg in self.segments:
            if seg.name in slices:
                raise ValueError(f"layout: segment {seg.name!r} appears twice")
            slices[seg.name] = slice(start, start + seg.size)
            start += seg.size
        object.__setattr__(self, "slices", slices)
        object.__setattr__(self, "size", start)
        low = np.concatenate([np.full(s.size, s.low, dtype=np.float64) for s in self.segments])
        high = np.concatenate([np.full(s.size, s.high, dtype=np.float64) for s in self.segments])
        object.__setattr__(self, "_low", low)
        object.__setattr__(self, "_high", high)

    @property
    def names(self) -> list[str]:
        return [seg.name for seg in self.segments]

    def segment(self, name: str) -> Segment:
        for seg in self.segments:
            if seg.name == name:
                return seg
        raise KeyError(f"no segment {name!r}; this layout has: {', '.join(self.names)}")

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(size,) low and high, float64."""
        return self._low.copy(), self._high.copy()

    def box(self) -> gymnasium.spaces.Box:
        low, high = self.bounds()
        return gymnasium.spaces.Box(low.astype(np.float32), high.astype(np.float32), (self.size,),
                                    dtype=np.float32)  # fmt: skip

    def view(self, x: np.ndarray, name: str) -> np.ndarray:
        """Segment ``name`` of vectors ``x`` (..., size), shaped (..., *segment.shape)."""
        seg = self.segment(name)
        return x[..., self.slices[name]].reshape(*x.shape[:-1], *seg.shape)

    def pack(self, parts: Mapping[str, np.ndarray], batch: int) -> np.ndarray:
        """(batch, size) float32 from ``parts`` (name -> (batch, *shape)), clipped to range."""
        missing = [name for name in self.names if name not in parts]
        if missing:
            raise ValueError(f"layout: no values for segments {', '.join(missing)}")
        out = np.empty((batch, self.size))
        for seg in self.segments:
            values = np.asarray(parts[seg.name], dtype=np.float64)
            if values.shape != (batch, *seg.shape):
                raise ValueError(
                    f"layout: segment {seg.name!r} has shape {values.shape}, "
                    f"expected {(batch, *seg.shape)}"
                )
            out[:, self.slices[seg.name]] = values.reshape(batch, seg.size)
        np.clip(out, self._low, self._high, out=out)
        return out.astype(np.float32)

    def describe(self) -> str:
        """One line per segment: name, shape, range and meaning (for docs and errors)."""
        return "\n".join(
            f"{s.name:<18} {s.shape!s:<10} [{s.low:g}, {s.high:g}]  {s.doc}" for s in self.segments
        )


class ObservationEncoder:
    """The env's observation function: a batch of local observations -> (R, obs_dim).

    Row i uses only row i's part of the :class:`~swarm.observation.LocalObservation` (own
    state, sensed neighbours, inbox, the scenario's ``obs.own`` readings), so a policy
    trained on it obeys the locality contract; the same function serves the PettingZoo env,
    the batched env and a learned controller inside the Mesa model.
    """

    def __init__(self, scenario: Scenario, settings: EnvConfig):
        c = scenario.config
        self.scenario = scenario
        self.frame: Frame = settings.frame
        self.k = settings.k_neighbors
        self.slots = settings.inbox_slots if scenario.message_dim > 0 else 0
        v = _speed_bound(c)
        r_pos = c.sense_radius + NOISE_SIGMAS * c.sensor_noise_pos
        r_vel = 2 * v + NOISE_SIGMAS * c.sensor_noise_vel
        k, dim = self.k, c.dim  # dim: 2, or 3 (x, y, altitude z)
        body = self.frame == "body"
        segments = [] if body else [
            Segment("own_pos", (dim,), 0.0, c.world_size, "own position (m)", vectors=()),
        ]  # fmt: skip
        segments += [
            Segment("own_vel", (dim,), -v, v,
                    "own velocity (m/s; body frame: forward speed, 0[, climb])" if body
                    else "own velocity (m/s)", vectors=(0,)),
        ]  # fmt: skip
        if k > 0:
            segments += [
                Segment("neighbor_rel_pos", (k, dim), -r_pos, r_pos, "nearest sensed drones (m)",
                        vectors=(0,)),
                Segment("neighbor_rel_vel", (k, dim), -r_vel, r_vel, "their relative velocity",
                        vectors=(0,)),
                Segment("neighbor_mask", (k,), 0.0, 1.0, "1 where a slot holds a drone",
                        vectors=()),
            ]  # fmt: skip
        self._message_width = 0
        self._message_vectors: tuple[int, ...] = ()
        if self.slots > 0:
            msg = scenario.message_segment()
            self._message_width = msg.size
            if body:
                self._message_vectors = _body_offsets(scenario, msg, dim, "inbox_slots=0")
            segments += [
                Segment("inbox", (self.slots, *msg.shape), msg.low, msg.high, msg.doc,
                        vectors=msg.vectors),
                Segment("inbox_mask", (self.slots,), 0.0, 1.0, "1 where a slot holds a message",
                        vectors=()),
            ]  # fmt: skip
        # static obstacles, where the map has them: the nearest point of each sensed one
        self._obstacles = c.obstacles != "none"
        obstacle_segments = [
            Segment("obstacle_rel_pos", (c.obstacle_slots, c.dim), -c.sense_radius, c.sense_radius,
                    "nearest point of each nearest sensed obstacle (m)", vectors=(0,)),
            Segment("obstacle_dist", (c.obstacle_slots,), -c.sense_radius, c.sense_radius,
                    "signed distance to each (m; < 0 inside it)", vectors=()),
            Segment("obstacle_mask", (c.obstacle_slots,), 0.0, 1.0,
                    "1 where a slot holds an obstacle", vectors=()),
        ] if self._obstacles else []  # fmt: skip
        self._task_segments = (*scenario.observation_segments(), *obstacle_segments)
        # name -> offsets of the vectors to turn, for the task segments that hold any
        self._task_vectors: dict[str, tuple[int, ...]] = {}
        if body:
            for seg in self._task_segments:
                offsets = _body_offsets(scenario, seg, dim)
                if offsets:
                    self._task_vectors[seg.name] = offsets
        segments += self._task_segments
        self.layout = Layout(tuple(segments))
        self._inbox_start = self.layout.slices["inbox"].start if self.slots > 0 else 0
        # (name, first column, width, shape after the row axis) of each task segment
        self._task_columns = tuple(
            (seg.name, self.layout.slices[seg.name].start, seg.size, tuple(seg.shape))
            for seg in self._task_segments
        )
        self._outputs: list[np.ndarray] = []
        starts = {name: s.start for name, s in self.layout.slices.items()}
        self._columns = np.array(
            [starts.get(name, -1) for name in _ENGINE_SEGMENTS], dtype=np.int64
        )
        # what an empty slot reads in every column (0 clipped to the column's range): each
        # row starts as a copy of it, so empty neighbour and inbox slots cost no work
        self._blank = np.clip(0.0, self.layout._low, self.layout._high).astype(np.float32)

    @property
    def obs_dim(self) -> int:
        return self.layout.size

    def __call__(self, obs: LocalObservation) -> np.ndarray:
        """(R, obs_dim) float32; crashed rows are zero.

        Written straight into the float32 result, every value clipped to its segment's
        range on the way: the engine's segments (own state, the k nearest sensed drones, the
        inbox mask) by one compiled pass over the neighbour table (:func:`_encode_engine`),
        then the scenario's message features and task segments.
        """
        R, layout = obs.n, self.layout
        low, high = layout._low, layout._high
        out = self._output(R)
        # (receiver row, slot, inbox entry) of each message the observation holds
        picked = np.empty((obs.inbox.sender.shape[0] if self.slots > 0 else 0, 3), np.int64)
        table = obs.neighbors
        # each row's heading (cos, sin); no rows: the world frame, nothing turned
        axes = body_axes(obs.vel) if self.frame == "body" else _NO_AXES
        n_picked = _encode_engine(
            obs.pos, obs.vel, table.ptr, table.seg_row, table.rel_pos, table.rel_vel,
            table.dist, self.k, obs.inbox.ptr, self.slots, self._columns, low, high, self._blank,
            axes, out, picked,
        )  # fmt: skip
        if n_picked > 0:
            self._write_inbox(obs, picked[:n_picked], out, axes)
        features = self.scenario.task_features(obs)
        if self._obstacles:
            features = {**features, "obstacle_rel_pos": obs.own["obstacle_rel_pos"],
                        "obstacle_dist": obs.own["obstacle_dist"],
                        "obstacle_mask": obs.own["obstacle_mask"]}  # fmt: skip
        for name, start, width, tail in self._task_columns:
            values = features.get(name)
            if values is None:
                missing = [n for n, *_ in self._task_columns if n not in features]
                raise ValueError(f"layout: no values for segments {', '.join(missing)}")
            values = np.asarray(values, dtype=np.float64)
            if values.shape != (R, *tail):
                raise ValueError(
                    f"layout: segment {name!r} has shape {values.shape}, expected {(R, *tail)}"
                )
            if name in self._task_vectors:
                values = world_to_body(values, axes, self._task_vectors[name])
            _write_columns(out, start, values.reshape(R, width), low, high)
        _zero_rows(out, obs.alive)
        return out

    def _output(self, rows: int) -> np.ndarray:
        """A (rows, obs_dim) float32 array to write into: one returned before is reused once
        nothing refers to it any more (checked by reference count, as the engine's
        ``BufferPool``), since fresh pages cost a page fault on first write (about a third
        of the encoder's time at 8,192 x 3); an observation someone still holds is never
        overwritten."""
        for buffer in self._outputs:
            # references: the list, the loop variable, getrefcount's argument
            if buffer.shape[0] == rows and sys.getrefcount(buffer) <= 3:
                return buffer
        buffer = np.empty((rows, self.layout.size), np.float32)
        self._outputs.append(buffer)
        if len(self._outputs) > 2:
            self._outputs.pop(0)  # forgotten here; freed once its last holder lets go
        return buffer

    def actions_to_world(self, actions: np.ndarray, vel: np.ndarray) -> np.ndarray:
        """(R, dim) actions on the axes this encoder's observations use, on the world's axes
        (``vel``: (R, dim) the own velocities those observations were made from). The
        world frame returns ``actions`` itself, untouched."""
        if self.frame == "world":
            return actions
        return body_to_world(actions, body_axes(vel))

    def _write_inbox(
        self, obs: LocalObservation, picked: np.ndarray, out: np.ndarray, axes: np.ndarray
    ) -> None:
        """The scenario's reading of the first ``inbox_slots`` messages of each row (the
        channel keeps the nearest senders), into the ``inbox`` segment of ``out``; in the
        body frame its declared vectors turned into the receiver's frame."""
        receivers, slots, entries = picked[:, 0], picked[:, 1], picked[:, 2]
        features = self.scenario.read_messages(obs, receivers, obs.inbox.msg[entries])
        if self._message_vectors:
            features = world_to_body(
                np.asarray(features, dtype=np.float64), axes[receivers], self._message_vectors
            )
        width = self._message_width
        columns = self._inbox_start + slots * width
        features = np.ascontiguousarray(features, dtype=np.float64).reshape(len(receivers), width)
        _scatter_rows(out, receivers, columns, features, self.layout._low, self.layout._high)


@numba.njit(cache=True, inline="always")
def _clipped(v, lo, hi):
    """``np.clip`` of one value (NaN stays NaN)."""
    if v < lo:
        v = lo
    if v > hi:
        v = hi
    return v


@numba.njit(cache=True)
def _encode_engine(
    pos, vel, ptr, seg_row, rel_pos, rel_vel, dist, k, inbox_ptr, slots, columns, low, high,
    blank, axes, out, picked,
):  # fmt: skip
    """Fill the engine's segments of ``out`` (R, obs_dim), clipped to [low, high] per
    column, in one pass; returns how many rows of ``picked`` it wrote. Plain-loop meaning::

        for each row i:
            row = blank  (0 clipped to each column's range: what an empty slot reads)
            own_pos, own_vel = pos[i], vel[i]
            nearest = the k entries of i's neighbour segment with the smallest dist, ascending,
                      ties in table order (what ``k_smallest_per_row`` picks)
            for slot t, entry e in enumerate(nearest):
                neighbor_rel_pos[t], neighbor_rel_vel[t], neighbor_mask[t] = rel_pos[e],
                                                                             rel_vel[e], 1
            for slot t < min(slots, messages of i): inbox_mask[t] = 1, and the next row of
                picked = (i, t, inbox_ptr[i] + t)  (receiver, slot, inbox entry)

    ``columns``: first column of own_pos, own_vel, neighbor_rel_pos, neighbor_rel_vel,
    neighbor_mask, inbox_mask, inbox (-1 where the layout lacks the segment). ``axes``: (R, 2)
    each row's heading (cos, sin) for the body frame, every vector (own_vel, rel_pos,
    rel_vel) turned by minus it before clipping; (0, 2): the world frame, nothing turned.
    """
    c_pos, c_vel, c_inbox = columns[0], columns[1], columns[5]
    c_rp, c_rv, c_mask = columns[2], columns[3], columns[4]
    dim = pos.shape[1]  # coordinates: 2, or 3
    body = axes.shape[0] > 0
    best_d = np.empty(max(k, 1))
    best_e = np.empty(max(k, 1), np.int64)
    row = np.empty(dim)
    n_picked = 0
    width = out.shape[1]
    for i in range(pos.shape[0]):
        for j in range(width):
            out[i, j] = blank[j]
        if c_pos >= 0:
            for d in range(dim):
                out[i, c_pos + d] = _clipped(pos[i, d], low[c_pos + d], high[c_pos + d])
        if body:
            _turn_into(row, vel[i], axes[i, 0], axes[i, 1])
            for d in range(dim):
                out[i, c_vel + d] = _clipped(row[d], low[c_vel + d], high[c_vel + d])
        else:
            for d in range(dim):
                out[i, c_vel + d] = _clipped(vel[i, d], low[c_vel + d], high[c_vel + d])
        if slots > 0:
            n_msg = min(slots, inbox_ptr[i + 1] - inbox_ptr[i])
            for t in range(n_msg):
                j = c_inbox + t
                out[i, j] = _clipped(1.0, low[j], high[j])
                picked[n_picked, 0] = i
                picked[n_picked, 1] = t
                picked[n_picked, 2] = inbox_ptr[i] + t
                n_picked += 1
    if k == 0:
        return n_picked
    for s in range(seg_row.shape[0]):
        i = seg_row[s]
        n = 0
        for e in range(ptr[s], ptr[s + 1]):
            n = insert_k_best(best_d, best_e, n, k, dist[e], e)
        for t in range(n):
            e = best_e[t]
            if body:
                _turn_into(row, rel_pos[e], axes[i, 0], axes[i, 1])
                for d in range(dim):
                    j = c_rp + dim * t + d
                    out[i, j] = _clipped(row[d], low[j], high[j])
                _turn_into(row, rel_vel[e], axes[i, 0], axes[i, 1])
                for d in range(dim):
                    j = c_rv + dim * t + d
                    out[i, j] = _clipped(row[d], low[j], high[j])
            else:
                for d in range(dim):
                    j = c_rp + dim * t + d
                    out[i, j] = _clipped(rel_pos[e, d], low[j], high[j])
                    j = c_rv + dim * t + d
                    out[i, j] = _clipped(rel_vel[e, d], low[j], high[j])
            j = c_mask + t
            out[i, j] = _clipped(1.0, low[j], high[j])
    return n_picked


@numba.njit(cache=True, inline="always")
def _turn_into(row, v, cos, sin):
    """``row`` = vector ``v`` (dim,) on the axes of a frame heading (cos, sin) from world x:
    x and y turned by minus the heading, z (3-D) as it is."""
    row[0] = cos * v[0] + sin * v[1]
    row[1] = cos * v[1] - sin * v[0]
    for d in range(2, v.shape[0]):
        row[d] = v[d]


_NO_AXES = np.zeros((0, 2))  # _encode_engine's "world frame": no row is turned


def body_axes(vel: np.ndarray) -> np.ndarray:
    """(R, 2) cos and sin of each drone's heading: the direction of its own horizontal
    velocity (x, y of ``vel`` (R, dim)), or the world's x axis (1, 0) below ``HOVER_SPEED``,
    where a heading is noise. Row i reads row i only."""
    vx, vy = vel[:, 0], vel[:, 1]
    speed = np.hypot(vx, vy)
    moving = speed > HOVER_SPEED
    safe = np.where(moving, speed, 1.0)
    return np.column_stack([np.where(moving, vx / safe, 1.0), np.where(moving, vy / safe, 0.0)])


def world_to_body(
    values: np.ndarray, axes: np.ndarray, offsets: tuple[int, ...] = (0,)
) -> np.ndarray:
    """A copy of ``values`` (R, ..., last) with the vectors that start at ``offsets`` along
    the last axis (x, y[, z] in world axes) turned into each row's body frame (``axes``
    (R, 2) from :func:`body_axes`): x and y by minus the heading, z as it is."""
    out = np.array(values, dtype=np.float64, copy=True)
    extra = (1,) * (out.ndim - 2)  # broadcast each row's heading over its slots
    cos, sin = axes[:, 0].reshape(-1, *extra), axes[:, 1].reshape(-1, *extra)
    for o in offsets:
        x, y = out[..., o].copy(), out[..., o + 1].copy()
        out[..., o] = cos * x + sin * y
        out[..., o + 1] = cos * y - sin * x
    return out


def body_to_world(values: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """(R, dim) vectors given in each row's body frame (an action) on the world's axes:
    the inverse of :func:`world_to_body` (x, y turned by plus the heading, z as it is)."""
    out = np.array(values, dtype=np.float64, copy=True)
    x, y = out[:, 0].copy(), out[:, 1].copy()
    cos, sin = axes[:, 0], axes[:, 1]
    out[:, 0] = cos * x - sin * y
    out[:, 1] = sin * x + cos * y
    return out


def _body_offsets(
    scenario: Scenario, seg: Segment, dim: int, instead: str | None = None
) -> tuple[int, ...]:
    """The offsets of ``seg``'s vectors to turn into the body frame; a segment that does not
    declare them (``Segment.vectors`` None), or declares impossible ones, is refused in one
    line naming it, since turning some vectors and not others would mix frames."""
    name = f"{scenario.name}_v0"
    if seg.vectors is None:
        raise ConfigError(
            f"{name}: frame='body': segment {seg.name!r} ({seg.doc or 'no description'}) does "
            f"not declare which of its values are world-frame vectors (Segment.vectors), so "
            f"it cannot be turned into the body frame; use frame='world'"
            + (f" or {instead}" if instead else "")
        )
    last = seg.shape[-1] if seg.shape else 0
    bad = [o for o in seg.vectors if o < 0 or o + dim > last]
    if bad:
        raise ConfigError(
            f"{name}: frame='body': segment {seg.name!r} declares vectors at offsets {bad}, "
            f"which do not fit {dim} components in its last axis of {last}"
        )
    return tuple(seg.vectors)


@numba.njit(cache=True)
def _scatter_rows(out, rows, columns, values, low, high):
    """``out[rows[j], columns[j] + f] = clip(values[j, f])`` for every j and f."""
    for j in range(rows.shape[0]):
        for f in range(values.shape[1]):
            c = columns[j] + f
            out[rows[j], c] = _clipped(values[j, f], low[c], high[c])


@numba.njit(cache=True)
def _write_columns(out, start, values, low, high):
    """``out[:, start : start + width] = clip(values)`` (values (R, width))."""
    for i in range(values.shape[0]):
        for f in range(values.shape[1]):
            c = start + f
            out[i, c] = _clipped(values[i, f], low[c], high[c])


@numba.njit(cache=True)
def _zero_rows(out, alive):
    """Crashed drones observe nothing: their rows read 0."""
    for i in range(out.shape[0]):
        if not alive[i]:
            for j in range(out.shape[1]):
                out[i, j] = 0.0


def state_layout(scenario: Scenario) -> Layout:
    """Global state of one env: every drone's position, velocity, alive flag; task state."""
    c = scenario.config
    n, v = c.n_agents, _speed_bound(c)
    return Layout(
        (
            Segment("pos", (n, c.dim), 0.0, c.world_size, "drone positions (m)"),
            Segment("vel", (n, c.dim), -v, v, "drone velocities (m/s)"),
            Segment("alive", (n,), 0.0, 1.0, "1 until the drone crashes"),
            *scenario.state_segments(),
        )
    )
