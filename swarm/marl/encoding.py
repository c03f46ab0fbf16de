"""Observations and state as flat vectors of named segments.

:class:`Layout` names the segments of a vector; :class:`ObservationEncoder` is the envs'
observation function (one compiled pass over the engine's neighbour table, kernels below);
:func:`state_layout` is the global state of one env (for centralised critics).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import gymnasium
import numba
import numpy as np

from swarm.marl.config import EnvConfig, _speed_bound
from swarm.neighbors import insert_k_best
from swarm.observation import LocalObservation
from swarm.scenario import Scenario, Segment

NOISE_SIGMAS = 5.0  # observation bounds widen by this many sensor-noise standard deviations
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
        self.k = settings.k_neighbors
        self.slots = settings.inbox_slots if scenario.message_dim > 0 else 0
        v = _speed_bound(c)
        r_pos = c.sense_radius + NOISE_SIGMAS * c.sensor_noise_pos
        r_vel = 2 * v + NOISE_SIGMAS * c.sensor_noise_vel
        k, dim = self.k, c.dim  # dim: 2, or 3 (x, y, altitude z)
        segments = [
            Segment("own_pos", (dim,), 0.0, c.world_size, "own position (m)"),
            Segment("own_vel", (dim,), -v, v, "own velocity (m/s)"),
        ]
        if k > 0:
            segments += [
                Segment("neighbor_rel_pos", (k, dim), -r_pos, r_pos, "nearest sensed drones (m)"),
                Segment("neighbor_rel_vel", (k, dim), -r_vel, r_vel, "their relative velocity"),
                Segment("neighbor_mask", (k,), 0.0, 1.0, "1 where a slot holds a drone"),
            ]
        self._message_width = 0
        if self.slots > 0:
            msg = scenario.message_segment()
            self._message_width = msg.size
            segments += [
                Segment("inbox", (self.slots, *msg.shape), msg.low, msg.high, msg.doc),
                Segment("inbox_mask", (self.slots,), 0.0, 1.0, "1 where a slot holds a message"),
            ]
        # static obstacles, where the map has them: the nearest point of each sensed one
        self._obstacles = c.obstacles != "none"
        obstacle_segments = [
            Segment("obstacle_rel_pos", (c.obstacle_slots, c.dim), -c.sense_radius, c.sense_radius,
                    "nearest point of each nearest sensed obstacle (m)"),
            Segment("obstacle_dist", (c.obstacle_slots,), -c.sense_radius, c.sense_radius,
                    "signed distance to each (m; < 0 inside it)"),
            Segment("obstacle_mask", (c.obstacle_slots,), 0.0, 1.0,
                    "1 where a slot holds an obstacle"),
        ] if self._obstacles else []  # fmt: skip
        self._task_segments = (*scenario.observation_segments(), *obstacle_segments)
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
        n_picked = _encode_engine(
            obs.pos, obs.vel, table.ptr, table.seg_row, table.rel_pos, table.rel_vel,
            table.dist, self.k, obs.inbox.ptr, self.slots, self._columns, low, high, self._blank,
            out, picked,
        )  # fmt: skip
        if n_picked > 0:
            self._write_inbox(obs, picked[:n_picked], out)
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

    def _write_inbox(self, obs: LocalObservation, picked: np.ndarray, out: np.ndarray) -> None:
        """The scenario's reading of the first ``inbox_slots`` messages of each row (the
        channel keeps the nearest senders), into the ``inbox`` segment of ``out``."""
        receivers, slots, entries = picked[:, 0], picked[:, 1], picked[:, 2]
        features = self.scenario.read_messages(obs, receivers, obs.inbox.msg[entries])
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
    blank, out, picked,
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
    neighbor_mask, inbox_mask, inbox (-1 where the layout lacks the segment).
    """
    c_pos, c_vel, c_inbox = columns[0], columns[1], columns[5]
    c_rp, c_rv, c_mask = columns[2], columns[3], columns[4]
    dim = pos.shape[1]  # coordinates: 2, or 3
    best_d = np.empty(max(k, 1))
    best_e = np.empty(max(k, 1), np.int64)
    n_picked = 0
    width = out.shape[1]
    for i in range(pos.shape[0]):
        for j in range(width):
            out[i, j] = blank[j]
        for d in range(dim):
            out[i, c_pos + d] = _clipped(pos[i, d], low[c_pos + d], high[c_pos + d])
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
            for d in range(dim):
                j = c_rp + dim * t + d
                out[i, j] = _clipped(rel_pos[e, d], low[j], high[j])
                j = c_rv + dim * t + d
                out[i, j] = _clipped(rel_vel[e, d], low[j], high[j])
            j = c_mask + t
            out[i, j] = _clipped(1.0, low[j], high[j])
    return n_picked


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
