"""PettingZoo and batched environments over the engine: one adapter for every scenario.

The env is a thin view of the same engine the Mesa model steps (:class:`~swarm.engine.Swarm`):
the scenario spawns, the engine senses, moves, carries messages and applies faults, and the
scenario's hooks (:mod:`swarm.scenario`) give the task's observation features, reward and
termination. Nothing here re-implements physics or sensing.

* :class:`SwarmParallelEnv` is a ``pettingzoo.ParallelEnv`` (one arena, ``n_envs = 1``);
  the AEC env is derived from it with PettingZoo's own ``parallel_to_aec`` conversion.
* :class:`BatchedSwarmEnv` steps E arenas x N drones in one engine call, on arrays, with
  auto-reset. Both run :class:`_Core`, so with E = 1, the same seed and the same actions they
  give identical observations and rewards (tested), across episode boundaries too.

Observation of drone i: one flat float32 vector, a concatenation of named segments
(:class:`Layout`; read them back with ``layout.view(obs, "neighbor_rel_pos")``, never by
position), computed only from i's local observation (the locality contract):

=================  ==============  =====================================================
``own_pos``        (2,)            own position (m; GPS-like, in [0, world_size])
``own_vel``        (2,)            own velocity (m/s)
``neighbor_rel_pos`` (k, 2)        the k = ``k_neighbors`` nearest sensed drones,
                                   position relative to own (m), nearest first
``neighbor_rel_vel`` (k, 2)        their velocity relative to own (m/s)
``neighbor_mask``  (k,)            1 where the slot holds a sensed drone, else 0
``inbox``          (m, F)          m = ``inbox_slots`` messages received from comm-graph
                                   neighbours (the nearest senders), as the scenario reads
                                   them (only for scenarios that send messages)
``inbox_mask``     (m,)            1 where the slot holds a message
task segments      scenario's      ``Scenario.observation_segments()`` (e.g. landmarks)
=================  ==============  =====================================================

Empty slots and crashed drones read 0. Values are clipped to the segment's range (a noisy
sensor saturates), so every observation lies in ``observation_space``.

Actions: continuous acceleration (m/s^2), a ``Box`` ``[-a, a]^2`` with ``a = max_accel`` (or
``2 max_speed / dt`` for kinematic drones, ``max_accel = inf``: enough to reverse at full
speed in one step); the engine then limits the norm to ``max_accel``, so corners of the
square are scaled down onto the disc. With ``continuous_actions=False``: ``Discrete(5)``,
MPE's order: 0 no-op, 1 -x, 2 +x, 3 -y, 4 +y, each at acceleration ``a``. Out-of-space
actions are rejected with an error naming the agent (``out_of_box="reject"``, the default)
or clipped to the box (``out_of_box="clip"``); wrong keys, shapes, types and NaN are always
rejected, and nothing is applied unless every action is valid. The scenario's broadcast is
checked alike before the channel carries it ((R, message_dim), finite for live drones), and
``reset(seed)`` takes None or an integer >= 0 only.

State (centralised critics): every drone's position (m), velocity (m/s) and alive flag, then
the scenario's ``state_segments()``; ``state_space`` is its Box.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import gymnasium
import numba
import numpy as np
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec_wrapper
from pettingzoo.utils.wrappers import OrderEnforcingWrapper
from pydantic import Field

from swarm.config import ConfigError, StrictConfig
from swarm.engine import Swarm, SwarmConfig
from swarm.neighbors import insert_k_best
from swarm.observation import LocalObservation
from swarm.registry import SCENARIOS, scenario_class
from swarm.scenario import Scenario, Segment
from swarm.viewer.envdisplay import EnvDisplay

# MPE's discrete action order (mpe2 simple_env: no-op, left, right, down, up) as unit vectors
DISCRETE_DIRECTIONS = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
NOISE_SIGMAS = 5.0  # observation bounds widen by this many sensor-noise standard deviations
RENDER_FPS = 10  # frames per second of the "human" window (metadata["render_fps"])
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


class EnvConfig(StrictConfig):
    """Arguments of the env itself (the rest go to the scenario's config)."""

    max_cycles: int = Field(100, ge=1, description="steps per episode before truncation")
    continuous_actions: bool = Field(
        True, description="Box acceleration actions; False: Discrete(5) (MPE's order)"
    )
    k_neighbors: int = Field(4, ge=0, description="nearest sensed drones in the observation")
    inbox_slots: int = Field(
        4, ge=0, description="messages in the observation (nearest senders; scenarios that talk)"
    )
    out_of_box: Literal["reject", "clip"] = Field(
        "reject", description="an action outside the action space: error, or clip to the box"
    )


# ---------------------------------------------------------------------------- layouts
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


def _speed_bound(config: SwarmConfig) -> float:
    return max(config.max_speed, config.initial_speed)


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
        k = self.k
        segments = [
            Segment("own_pos", (2,), 0.0, c.world_size, "own position (m)"),
            Segment("own_vel", (2,), -v, v, "own velocity (m/s)"),
        ]
        if k > 0:
            segments += [
                Segment("neighbor_rel_pos", (k, 2), -r_pos, r_pos, "nearest sensed drones (m)"),
                Segment("neighbor_rel_vel", (k, 2), -r_vel, r_vel, "their relative velocity"),
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
        segments += scenario.observation_segments()
        self.layout = Layout(tuple(segments))
        self._task_segments = tuple(scenario.observation_segments())
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
    best_d = np.empty(max(k, 1))
    best_e = np.empty(max(k, 1), np.int64)
    n_picked = 0
    width = out.shape[1]
    for i in range(pos.shape[0]):
        for j in range(width):
            out[i, j] = blank[j]
        for d in range(2):
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
            for d in range(2):
                j = c_rp + 2 * t + d
                out[i, j] = _clipped(rel_pos[e, d], low[j], high[j])
                j = c_rv + 2 * t + d
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
            Segment("pos", (n, 2), 0.0, c.world_size, "drone positions (m)"),
            Segment("vel", (n, 2), -v, v, "drone velocities (m/s)"),
            Segment("alive", (n,), 0.0, 1.0, "1 until the drone crashes"),
            *scenario.state_segments(),
        )
    )


# ---------------------------------------------------------------------------- actions
DISCRETE_DOC = "0..4 (no-op, -x, +x, -y, +y)"


def discrete_action(env: Any, agent: str, value: Any, n: int, doc: str) -> int:
    """``value`` as an index of Discrete(n), or a TypeError / ValueError naming env and agent
    (bools and floats are refused: they are not actions; nor is an array of any shape but
    ``()``, even of one element: a policy giving (1,) per agent has a bug worth seeing)."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if not ok and isinstance(value, np.ndarray):
        if value.shape != ():
            raise ValueError(
                f"{env}: {agent}: action is an array of shape {value.shape}; expected one "
                f"integer of Discrete({n}): {doc}"
            )
        ok = value.dtype.kind in "iu"
    if not ok:
        raise TypeError(
            f"{env}: {agent}: action {value!r} is not an integer; expected one of {doc}"
        )
    if not 0 <= int(value) < n:
        raise ValueError(f"{env}: {agent}: action {int(value)} is outside Discrete({n}); "
                         f"expected {doc}")  # fmt: skip
    return int(value)


def discrete_actions(
    env: Any, agents: list[str], values: list[Any], n: int, doc: str
) -> np.ndarray:
    """(len(agents),) int64 indices of Discrete(n), checked as :func:`discrete_action` does
    one by one; the common case (plain integers in range) in one numpy pass."""
    try:
        arr = np.asarray(values) if values else np.zeros(0, np.int64)
    except (TypeError, ValueError):  # ragged: arrays of different shapes among the values
        arr = None
    plain = arr is not None and arr.dtype.kind in "iu" and arr.shape == (len(values),)
    if plain and not any(isinstance(v, bool | np.bool_) for v in values):
        if not len(arr) or (arr.min() >= 0 and arr.max() < n):
            return arr.astype(np.int64)
    # find and name the bad one (or, for valid values numpy did not read as one integer
    # array, e.g. a mix of uint64 and int64 scalars, collect them one by one)
    checked = [
        discrete_action(env, agent, v, n, doc) for agent, v in zip(agents, values, strict=True)
    ]
    return np.array(checked, dtype=np.int64)


def check_reset_seed(env: Any, seed: Any) -> int | None:
    """``reset``'s ``seed``: None or an integer >= 0 (numpy's SeedSequence takes no negative
    entropy); anything else is one ConfigError line naming ``seed`` and what is allowed."""
    if seed is None:
        return None
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"{env}: reset(seed={seed!r}): seed must be None or an integer >= 0")
    return int(seed)


class CheckedAECEnv(parallel_to_aec_wrapper):
    """PettingZoo's parallel -> AEC conversion, checking each action when it is given.

    The plain conversion buffers actions and hands them to the parallel env only at the
    last agent's turn, so a bad action would surface late, name the wrong turn and stay
    buffered. Here ``step`` asks the parallel env's ``check_action`` first: a bad action
    raises at once, naming its agent, and nothing is buffered or applied.
    """

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if not (self.terminations[agent] or self.truncations[agent]):
            self.env.check_action(agent, action)
        super().step(action)


# ---------------------------------------------------------------------------- configuration
def _is_drone_model(model_class: type) -> bool:
    """Whether a registered model runs on the drone engine (a :class:`Scenario` subclass)."""
    hook = getattr(model_class, "scenario_class", None)
    return isinstance(hook, type) and issubclass(hook, Scenario)


def split_fields(
    name: str, values: Mapping[str, Any], env_class: type[StrictConfig], config_class: type
) -> tuple[Any, Any]:
    """(env arguments, scenario config) from one flat set of an env's keyword arguments;
    an argument neither knows fails with one line listing both sets of fields."""
    env_fields, config_fields = set(env_class.model_fields), set(config_class.model_fields)
    unknown = sorted(set(values) - env_fields - config_fields)
    if unknown:
        raise ConfigError(
            f"{name}_v0: unknown argument(s) {', '.join(unknown)}; env arguments: "
            f"{', '.join(sorted(env_fields))}; scenario fields: {', '.join(sorted(config_fields))}"
        )
    settings = env_class.build(f"{name}_v0", **{k: v for k, v in values.items() if k in env_fields})
    config = config_class.build(name, **{k: v for k, v in values.items() if k not in env_fields})
    return settings, config


def split_config(name: str, values: Mapping[str, Any]) -> tuple[type, EnvConfig, SwarmConfig]:
    """(model class, env arguments, scenario config) from one flat set of keyword arguments."""
    model_class = scenario_class(name)
    if not _is_drone_model(model_class):
        drone = sorted(n for n in SCENARIOS if _is_drone_model(scenario_class(n)))
        raise ConfigError(
            f"{name}: not a drone scenario, so it has no drone env here (a grid scenario's "
            f"env is envs/{name}_v0.py); drone scenarios: {', '.join(drone)}"
        )
    settings, config = split_fields(name, values, EnvConfig, model_class.config_class)
    talks = model_class.scenario_class.message_dim > 0 and settings.inbox_slots > 0
    if talks and config.max_inbox is None:
        # the inbox keeps the nearest senders, as many as the observation has slots for
        config = config.model_copy(update={"max_inbox": settings.inbox_slots})
    return model_class, settings, config


def action_bound(config: SwarmConfig) -> float:
    """Largest acceleration component an action may ask for (m/s^2); see the module doc."""
    if np.isfinite(config.max_accel):
        return float(config.max_accel)
    return 2.0 * config.max_speed / config.dt


# ---------------------------------------------------------------------------- the shared core
class _Core:
    """E arenas of one scenario over one engine: what both envs run, step for step."""

    def __init__(self, name: str, n_envs: int, values: Mapping[str, Any]):
        if not isinstance(n_envs, int | np.integer) or n_envs < 1:
            raise ConfigError(f"n_envs: must be an integer >= 1 (got {n_envs!r})")
        self.name = name
        self.model_class, self.settings, self.config = split_config(name, values)
        self.n_envs, self.n_agents = int(n_envs), self.config.n_agents
        self.scenario: Scenario = self.model_class.scenario_class(self.config)
        self.encoder = ObservationEncoder(self.scenario, self.settings)
        self.state_layout = state_layout(self.scenario)
        self.talks = self.encoder.slots > 0
        self.bound = action_bound(self.config)
        self.engine: Swarm | None = None
        self.rng: np.random.Generator | None = None
        self.steps = np.zeros(self.n_envs, dtype=np.int64)  # (E,) steps since each env's reset

    def start(self, rng: np.random.Generator) -> None:
        """A fresh engine drawn from ``rng``, as the Mesa model builds it (same spawn)."""
        self.rng = rng
        self.scenario = self.model_class.scenario_class(self.config)
        self.encoder.scenario = self.scenario
        engine = Swarm(self.config, rng, n_envs=self.n_envs, scenario=self.scenario)
        if self.talks:
            engine.open_channel(self.scenario.message_dim)
        self.scenario.spawn(engine, np.arange(engine.rows), rng)
        engine.reset_faults()
        engine.sense()
        self.engine = engine
        self.steps[:] = 0

    def restart(self, envs: np.ndarray) -> None:
        """Start new episodes in ``envs`` only, in place (the others keep running): the
        scenario respawns their rows and task state, their clock and ``crash_at`` schedule
        start again from step 0 (:meth:`Swarm.restart_envs`)."""
        engine = self._live()
        N = self.n_agents
        rows = (envs[:, None] * N + np.arange(N)[None, :]).ravel()
        engine.restart_envs(envs)
        self.scenario.spawn(engine, rows, engine.rng)
        engine.apply_faults(envs)
        engine.invalidate()
        engine.sense()
        self.steps[envs] = 0

    def _live(self) -> Swarm:
        if self.engine is None:
            raise RuntimeError(f"{self.name}_v0: call reset() before step()")
        return self.engine

    def observe(self) -> np.ndarray:
        """(E, N, obs_dim) float32."""
        engine = self._live()
        return self.encoder(engine.obs).reshape(self.n_envs, self.n_agents, -1)

    def state(self) -> np.ndarray:
        """(E, state_dim) float32."""
        engine = self._live()
        E, N = self.n_envs, self.n_agents
        parts = {
            "pos": engine.pos.reshape(E, N, 2),
            "vel": engine.vel.reshape(E, N, 2),
            "alive": engine.alive.reshape(E, N),
            **self.scenario.state_features(engine),
        }
        return self.state_layout.pack(parts, E)

    def advance(self, accel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One engine step with accelerations (R, 2): (reward, terminated, active), each (R,).

        ``active``: the row was alive before the step (its transition is real); dead rows get
        reward 0 and stay terminated.
        """
        engine = self._live()
        active = engine.alive.copy()
        everyone = bool(active.all())  # nobody crashed: no masking needed (the common case)
        obs = engine.obs
        messages = self.check_messages(self.scenario.broadcast(obs), active) if self.talks else None
        del obs
        engine.apply(accel if everyone else np.where(active[:, None], accel, 0.0),
                     "acceleration", messages)  # fmt: skip
        self.steps += 1
        reward = self.scenario.reward(engine, accel)
        if not everyone:
            reward = np.where(active, reward, 0.0)
        terminated = np.asarray(self.scenario.terminated(engine), dtype=bool) | ~engine.alive
        return reward, terminated, active

    def check_messages(self, messages: Any, alive: np.ndarray) -> np.ndarray:
        """Validate the (R, message_dim) broadcast before the channel carries it: the shape,
        and finite values for live drones (a NaN would spread to every receiver's
        observation). One vectorised test in the common case; the diagnosis only on failure.
        """
        rows, dim = self.n_envs * self.n_agents, self.scenario.message_dim
        try:
            arr = np.asarray(messages, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.shape != (rows, dim):
            got = "unreadable values" if arr is None else f"shape {arr.shape}"
            raise ValueError(
                f"{self.name}_v0: broadcast messages have {got}; expected ({rows}, {dim}) "
                "(drones x message_dim floats)"
            )
        if _all_finite(arr):
            return arr
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1) & alive)  # crashed rows send nothing
        if len(bad):
            e, i = divmod(int(bad[0]), self.n_agents)
            raise ValueError(
                f"{self.name}_v0: the scenario's broadcast gave drone_{i} (env {e}) the "
                f"non-finite message {arr[bad[0]].tolist()} ({len(bad)} drone(s) in all); "
                "messages must be finite"
            )
        return arr

    def to_accel(self, actions: np.ndarray) -> np.ndarray:
        """Accelerations (..., 2) from validated actions: Box values or Discrete indices."""
        if self.settings.continuous_actions:
            return actions
        return DISCRETE_DIRECTIONS[actions] * self.bound


@numba.njit(cache=True)
def _all_finite(values):
    """Whether every value is finite: one compiled pass with early exit (a few times cheaper
    than ``np.isfinite(values).all()`` on the small arrays of a PettingZoo step)."""
    for v in values.flat:
        if not np.isfinite(v):
            return False
    return True


# ---------------------------------------------------------------------------- PettingZoo env
def _metadata(name: str) -> dict[str, Any]:
    return {
        "name": f"{name}_v0",
        "render_modes": ["human", "rgb_array"],
        "is_parallelizable": True,
        "render_fps": RENDER_FPS,
    }


def _check_render_mode(name: str, render_mode: str | None) -> None:
    modes = _metadata(name)["render_modes"]
    if render_mode is not None and render_mode not in modes:
        raise ConfigError(
            f"{name}_v0: render_mode {render_mode!r}; allowed: None, {', '.join(modes)}"
        )


class NamedAgents:
    """Per-agent spaces and name lookups shared by the drone and grid parallel envs: they
    set ``possible_agents``, ``_index`` (name -> row) and the two space dicts."""

    possible_agents: list[str]
    _index: dict[str, int]
    observation_spaces: dict[str, gymnasium.spaces.Space]
    action_spaces: dict[str, gymnasium.spaces.Space]

    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        self._agent_index(agent)
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        self._agent_index(agent)
        return self.action_spaces[agent]

    def _agent_index(self, agent: Any) -> int:
        """Row of ``agent``, or a KeyError naming the env and the agents it has."""
        if agent not in self._index:
            raise KeyError(
                f"{self}: unknown agent {agent!r}; agents are "
                f"{self.possible_agents[0]} .. {self.possible_agents[-1]}"
            )
        return self._index[agent]


class SwarmParallelEnv(NamedAgents, ParallelEnv):
    """PettingZoo parallel env of a registered scenario (see the module docstring).

    Args:
        scenario: a name in :data:`swarm.registry.SCENARIOS`.
        render_mode: None, "human" or "rgb_array".
        **config: env arguments (:class:`EnvConfig`) and the scenario config's fields.
    """

    metadata: dict[str, Any] = _metadata("swarm")

    def __init__(self, scenario: str, render_mode: str | None = None, **config: Any):
        _check_render_mode(scenario, render_mode)
        self.core = _Core(scenario, 1, config)
        self.metadata = _metadata(scenario)
        self.render_mode = render_mode
        self.max_cycles = self.core.settings.max_cycles  # read at every step (tests set it)
        n = self.core.n_agents
        self.possible_agents = [f"drone_{i}" for i in range(n)]
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self.layout = self.core.encoder.layout
        self.observation_spaces = {a: self.layout.box() for a in self.possible_agents}
        if self.core.settings.continuous_actions:
            b = self.core.bound
            self.action_spaces = {
                a: gymnasium.spaces.Box(-b, b, (2,), dtype=np.float32) for a in self.possible_agents
            }
        else:
            self.action_spaces = {a: gymnasium.spaces.Discrete(5) for a in self.possible_agents}
        self.state_space = self.core.state_layout.box()
        self._display = EnvDisplay(str(self), RENDER_FPS)  # the viewer's renderer
        self._all_rows = np.arange(n, dtype=np.int64)
        self._live_cache: tuple[list[str] | None, set[str]] = (None, set())
        self._all_active = np.ones((1, n), dtype=bool)
        self._action_low = np.full(2, -self.core.bound, dtype=np.float32).astype(np.float64)
        self._action_high = np.full(2, self.core.bound, dtype=np.float32).astype(np.float64)

    def __str__(self) -> str:
        return self.metadata["name"]

    @property
    def engine(self) -> Swarm:
        """The engine under this env (its arrays are the state; the dicts are views)."""
        return self.core._live()

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """New episode; ``seed`` restarts the generator, None continues its stream."""
        seed = check_reset_seed(self, seed)
        if seed is not None:
            rng = np.random.default_rng(seed)
        elif self.core.rng is None:
            rng = np.random.default_rng()
        else:
            rng = self.core.rng
        self.core.start(rng)
        self.agents = self.possible_agents[:]
        obs = self.core.observe()[0]
        return (
            {a: obs[i] for i, a in enumerate(self.possible_agents)},
            {a: {} for a in self.possible_agents},
        )

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError(f"{self}: the episode is over (no live agents); call reset()")
        rows, values = self._check(actions)
        if rows is self._all_rows:
            accel = self.core.to_accel(values)  # every agent acts, in row order
        else:
            accel = np.zeros((self.core.n_agents, 2))
            accel[rows] = self.core.to_accel(values)
        reward, terminated, _ = self.core.advance(accel)
        truncate = bool(self.core.steps[0] >= self.max_cycles)
        obs = self.core.observe()[0]
        agents = self.agents
        reward_list, terminated_list = reward.tolist(), terminated.tolist()
        if rows is self._all_rows:  # agents are possible_agents: row i is agents[i]
            observations = dict(zip(agents, obs, strict=True))
            rewards = dict(zip(agents, reward_list, strict=True))
            terminations = dict(zip(agents, terminated_list, strict=True))
        else:
            index = self._index
            observations = {a: obs[index[a]] for a in agents}
            rewards = {a: float(reward_list[index[a]]) for a in agents}
            terminations = {a: bool(terminated_list[index[a]]) for a in agents}
        truncations = {a: truncate and not terminations[a] for a in agents}
        infos: dict[str, dict] = {a: {} for a in agents}
        if truncate or any(terminated_list):
            self.agents = [a for a in agents if not (terminations[a] or truncations[a])]
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    # ----------------------------------------------------------------- validation
    def _check(self, actions: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values) of the live agents' actions, every one validated before any use."""
        if not isinstance(actions, Mapping):
            raise TypeError(f"{self}: actions must be a dict agent -> action, got {type(actions)}")
        live = self.agents
        if len(actions) != len(live) or actions.keys() != self._live_keys(live):
            self._key_problems(actions)
        if len(live) == len(self.possible_agents):
            rows = self._all_rows  # nobody crashed: live is possible_agents, in order
        else:
            rows = np.fromiter((self._index[a] for a in live), dtype=np.int64, count=len(live))
        if self.core.settings.continuous_actions:
            values = self._continuous([actions[a] for a in live])
        else:
            values = self._discrete([actions[a] for a in live])
        return rows, values

    def _live_keys(self, live: list[str]) -> set[str] | Any:
        """The live agents as a set (cached while the list object stays the same)."""
        if self._live_cache[0] is not live:
            self._live_cache = (live, set(live))
        return self._live_cache[1]

    def _key_problems(self, actions: Mapping[str, Any]) -> None:
        live = set(self.agents)
        unknown = [k for k in actions if k not in self._index]
        if unknown:
            raise KeyError(
                f"{self}: unknown agent(s) {', '.join(map(repr, unknown))}; agents are "
                f"{self.possible_agents[0]} .. {self.possible_agents[-1]}"
            )
        gone = [k for k in actions if k not in live]
        if gone:
            raise KeyError(
                f"{self}: agent(s) {', '.join(gone)} terminated or were truncated; "
                "leave them out of the actions"
            )
        missing = [a for a in self.agents if a not in actions]
        raise KeyError(f"{self}: missing actions for live agent(s) {', '.join(missing)}")

    def _continuous(self, given: list[Any], agents: list[str] | None = None) -> np.ndarray:
        agents = agents or self.agents
        low, high = self._action_low, self._action_high
        try:
            values = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            values = None
        if values is None or values.shape != (len(given), 2):
            self._diagnose_shape(given, agents)
        checked = np.empty((1, len(given), 2))
        clip = self.core.settings.out_of_box == "clip"
        problem, _, i = _screen_actions(
            values[None], self._all_active[:, : len(given)], low, high, clip, checked
        )
        if problem == _NOT_FINITE:
            raise ValueError(f"{self}: {agents[i]}: action {given[i]!r} is not finite")
        if problem == _OUTSIDE:
            raise ValueError(
                f"{self}: {agents[i]}: action {values[i].tolist()} is outside the action "
                f"space [{low[0]:g}, {high[0]:g}]^2 (m/s^2); pass out_of_box='clip' to clip"
            )
        return checked[0]

    def _diagnose_shape(self, given: list[Any], agents: list[str]) -> None:
        for agent, value in zip(agents, given, strict=True):
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{self}: {agent}: action {value!r} is not numeric; expected 2 floats "
                    "(acceleration, m/s^2)"
                ) from None
            if arr.shape != (2,):
                raise ValueError(
                    f"{self}: {agent}: action has shape {arr.shape}; expected (2,) "
                    "(acceleration x, y in m/s^2)"
                )
        raise ValueError(f"{self}: actions could not be read")  # unreachable in practice

    def _discrete(self, given: list[Any], agents: list[str] | None = None) -> np.ndarray:
        names = agents or self.agents
        return discrete_actions(self, names, given, len(DISCRETE_DIRECTIONS), DISCRETE_DOC)

    def check_action(self, agent: str, action: Any) -> None:
        """Raise the error ``step`` would raise for this one action (the AEC env checks each
        action as it is given, so a bad one is never buffered)."""
        if agent not in self._index:
            self._key_problems({agent: action})
        if self.core.settings.continuous_actions:
            self._continuous([action], [agent])
        else:
            self._discrete([action], [agent])

    # ----------------------------------------------------------------- the rest of the API
    def state(self) -> np.ndarray:
        """(state_dim,) float32 global state of the arena (for centralised critics)."""
        return self.core.state()[0]

    def render(self) -> np.ndarray | None:
        """The viewer's picture of arena 0 (:mod:`swarm.viewer.envdisplay`): returned in
        ``rgb_array`` mode, shown in a window in ``human`` mode (the same pixels)."""
        if self.render_mode is None:
            gymnasium.logger.warn(f"{self}: render() without a render_mode; pass render_mode")
            return None
        if self.render_mode == "rgb_array":
            return self._display.frame(self.core._live())
        self._display.show(self.core._live())
        return None

    def close(self) -> None:
        self._display.close()


# ---------------------------------------------------------------------------- batched env
class BatchedSwarmEnv:
    """E arenas x N drones stepped in one engine call, on arrays, with auto-reset.

    ``step(actions)`` takes (E, N, 2) accelerations (or (E, N) integers with
    ``continuous_actions=False``) and returns ``obs`` (E, N, obs_dim) float32, ``reward``
    (E, N), ``terminated`` (E, N) bool (the drone crashed, now or before), ``truncated``
    (E, N) bool (``max_cycles`` reached) and ``info``. An env whose drones are all
    terminated or truncated starts a new episode at once: ``obs`` holds its first
    observation, ``info["final_obs"]``/``info["final_state"]`` (present when an env ended)
    the last ones, ``info["done_envs"]`` (E,) which ended. ``info["active"]`` (E, N) marks
    drones that were alive before the step (only their transitions are real); actions of
    other drones are ignored. Episodes of all envs ending together start afresh from the
    run's generator exactly as the PettingZoo env's ``reset()`` does (so E = 1 matches it);
    an env ending alone is respawned in place (its rows and its task state only; the other
    envs' task state is untouched) and its clock restarts: ``crash_at`` steps count each
    env's own steps (``engine.env_t``), while the keyed random streams (sensor noise,
    packet drops) go on with the batch's step ``engine.t``.

    The observation layout, reward and termination are those of :class:`SwarmParallelEnv`.
    """

    def __init__(self, scenario: str, n_envs: int = 1, **config: Any):
        self.core = _Core(scenario, n_envs, config)
        self.name = f"{scenario}_v0"
        self.n_envs, self.n_agents = self.core.n_envs, self.core.n_agents
        self.max_cycles = self.core.settings.max_cycles
        self.layout = self.core.encoder.layout
        self.state_layout = self.core.state_layout
        self.obs_dim = self.layout.size
        self.state_dim = self.state_layout.size
        self.observation_space = self.layout.box()  # one drone's
        self.state_space = self.state_layout.box()
        b = self.core.bound
        if self.core.settings.continuous_actions:
            self.action_space: gymnasium.spaces.Space = gymnasium.spaces.Box(
                -b, b, (2,), dtype=np.float32
            )
            self.act_dim = 2
            self.action_low = self.action_space.low.astype(np.float64)
            self.action_high = self.action_space.high.astype(np.float64)
        else:
            self.action_space = gymnasium.spaces.Discrete(len(DISCRETE_DIRECTIONS))
            self.act_dim = 1
            self.action_low = np.zeros(1)
            self.action_high = np.full(1, len(DISCRETE_DIRECTIONS) - 1.0)

    @property
    def engine(self) -> Swarm:
        return self.core._live()

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Every env starts a new episode; ``seed`` restarts the generator."""
        seed = check_reset_seed(self.name, seed)
        if seed is not None or self.core.rng is None:
            self.core.start(np.random.default_rng(seed))
        else:
            self.core.start(self.core.rng)
        return self.core.observe(), {}

    def state(self) -> np.ndarray:
        """(E, state_dim) float32."""
        return self.core.state()

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        E, N = self.n_envs, self.n_agents
        engine = self.core._live()
        active = engine.alive.reshape(E, N)
        values = self._check(actions, active)
        accel = self.core.to_accel(values).reshape(E * N, 2)
        reward, terminated, _ = self.core.advance(accel)
        reward, terminated = reward.reshape(E, N), terminated.reshape(E, N)
        truncated = (self.core.steps >= self.max_cycles)[:, None] & ~terminated
        obs = self.core.observe()
        done = (terminated | truncated).all(axis=1)
        info: dict[str, Any] = {"active": active, "done_envs": done}
        if done.any():
            info["final_obs"] = obs
            info["final_state"] = self.core.state()
            if done.all():
                self.core.start(self.core.rng)
            else:
                self.core.restart(np.flatnonzero(done))
            obs = self.core.observe()
        return obs, reward, terminated, truncated, info

    def _check(self, actions: Any, active: np.ndarray) -> np.ndarray:
        """Validated actions of all rows (inactive ones zeroed); errors name env and drone."""
        E, N = self.n_envs, self.n_agents
        continuous = self.core.settings.continuous_actions
        shape = (E, N, 2) if continuous else (E, N)
        try:
            arr = np.asarray(actions)
        except (TypeError, ValueError):
            raise TypeError(f"{self.name}: actions must be an array of shape {shape}") from None
        if arr.shape != shape:
            raise ValueError(f"{self.name}: actions have shape {arr.shape}; expected {shape}")
        if not continuous:
            if arr.dtype.kind not in "iu":
                raise TypeError(
                    f"{self.name}: discrete actions must be integers 0..4, got dtype {arr.dtype}"
                )
            bad = active & ((arr < 0) | (arr >= len(DISCRETE_DIRECTIONS)))
            if bad.any():
                e, i = np.argwhere(bad)[0]
                raise ValueError(
                    f"{self.name}: actions[{e}, {i}] (env {e}, drone_{i}) = {arr[e, i]} is "
                    "outside Discrete(5): 0..4"
                )
            return np.where(active, arr, 0)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"{self.name}: actions must be numeric, got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        low, high = self.action_low, self.action_high
        clip = self.core.settings.out_of_box == "clip"
        out = np.empty((E, N, 2))
        problem, e, i = _screen_actions(arr, active, low, high, clip, out)
        if problem == _NOT_FINITE:
            raise ValueError(
                f"{self.name}: actions[{e}, {i}] (env {e}, drone_{i}) = {arr[e, i].tolist()} "
                "is not finite"
            )
        if problem == _OUTSIDE:
            raise ValueError(
                f"{self.name}: actions[{e}, {i}] (env {e}, drone_{i}) = "
                f"{arr[e, i].tolist()} is outside the action space "
                f"[{low[0]:g}, {high[0]:g}]^2 (m/s^2); pass out_of_box='clip' to clip"
            )
        return out


_NOT_FINITE, _OUTSIDE = 1, 2  # what _screen_actions found first


@numba.njit(cache=True)
def _screen_actions(actions, active, low, high, clip, out):
    """Validate (E, N, 2) actions of active drones in one pass; ``out`` gets them (clipped
    to [low, high] when ``clip``), zero for inactive drones. Returns (problem, e, i): 0 when
    all are valid, else the first non-finite action (_NOT_FINITE) or, failing that, the first
    outside the box (_OUTSIDE, only when not clipping), in row-major order."""
    first_outside_e, first_outside_i = -1, -1
    for e in range(actions.shape[0]):
        for i in range(actions.shape[1]):
            if not active[e, i]:
                out[e, i, 0] = 0.0
                out[e, i, 1] = 0.0
                continue
            for d in range(2):
                v = actions[e, i, d]
                if not np.isfinite(v):
                    return 1, e, i
                if v < low[d] or v > high[d]:
                    if clip:
                        v = min(max(v, low[d]), high[d])
                    elif first_outside_e < 0:
                        first_outside_e, first_outside_i = e, i
                out[e, i, d] = v
    if first_outside_e >= 0:
        return 2, first_outside_e, first_outside_i
    return 0, 0, 0


# ---------------------------------------------------------------------------- module helpers
class EnvModule(NamedTuple):
    """What an ``envs/<name>_v0.py`` module exposes, made for one scenario."""

    parallel_env: Callable[..., ParallelEnv]
    raw_env: Callable[..., AECEnv]
    env: Callable[..., AECEnv]
    metadata: dict[str, Any]


def pettingzoo_module(
    name: str, parallel_class: type[ParallelEnv], metadata: dict[str, Any], config_doc: str
) -> EnvModule:
    """PettingZoo's module convention for scenario ``name`` over one parallel env class (the
    drones' :class:`SwarmParallelEnv` or the grid robots' env): the AEC env is derived from
    it, checking each action at its turn (:class:`CheckedAECEnv`)."""
    if name not in SCENARIOS:
        raise ConfigError(f"scenario: unknown {name!r}; allowed: {', '.join(sorted(SCENARIOS))}")

    def parallel_env(render_mode: str | None = None, **config: Any) -> ParallelEnv:
        return parallel_class(name, render_mode=render_mode, **config)

    def raw_env(render_mode: str | None = None, **config: Any) -> AECEnv:
        return CheckedAECEnv(parallel_env(render_mode=render_mode, **config))

    def env(render_mode: str | None = None, **config: Any) -> AECEnv:
        return OrderEnforcingWrapper(raw_env(render_mode=render_mode, **config))

    parallel_env.__doc__ = f"The {name} scenario as a PettingZoo ParallelEnv (keyword args: "
    parallel_env.__doc__ += f"{config_doc} fields and the scenario config's fields)."
    raw_env.__doc__ = f"The {name} scenario as an AEC env derived from the parallel env."
    env.__doc__ = f"The {name} AEC env with PettingZoo's order-enforcing wrapper."
    return EnvModule(parallel_env, raw_env, env, metadata)


def env_module(name: str) -> EnvModule:
    """The PettingZoo constructors of drone scenario ``name``."""
    return pettingzoo_module(name, SwarmParallelEnv, _metadata(name), "EnvConfig")


def observation_encoder(scenario: str, **config: Any) -> ObservationEncoder:
    """The observation function of scenario ``scenario``'s envs for these arguments: a
    learned controller in the Mesa model reads exactly what it was trained on."""
    model_class, settings, cfg = split_config(scenario, config)
    return ObservationEncoder(model_class.scenario_class(cfg), settings)
