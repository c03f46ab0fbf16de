"""Drone dynamics and the arena: a double integrator with speed and acceleration limits, or a
quadrotor-like variant of it whose acceleration lags the command and is limited by tilt and thrust.

Semi-implicit Euler (velocity first, then position with the new velocity), which is what a
flight controller's inner loop does each tick and is stable for the stiff separation terms of
flocking controllers. Walls reflect (position mirrored, normal velocity reversed); a torus
wraps. One fused numba pass per step: the numpy version made five temporaries of (R, 2).

In 3-D (``SwarmConfig.dim = 3``, (R, 3) arrays) the same step runs on every axis of a cube:
the box reflects on all six faces, so its floor (z = 0) and ceiling (z = world_size) are the
altitude limits, and a torus wraps altitude too. No gravity: the double integrator's command is
the net acceleration (a flight controller compensates the weight). The 2-D kernels are kept as
they were, so 2-D runs stay bit for bit what they were.

Quadrotor (``SwarmConfig.dynamics = "quadrotor"``, :func:`integrate_quadrotor`): seen from
above, a multirotor holding its altitude accelerates sideways by tilting its thrust. The
controller's command is still a desired horizontal acceleration; the airframe can deliver at
most ``g tan(max_tilt)`` (the tilt limit of its attitude controller) and ``g sqrt(TW^2 - 1)``
(thrust-to-weight TW: the vertical component must still carry the weight), and it reaches
the command through a first-order lag of time constant ``tau`` (the attitude loop turning the
thrust vector). The lag's state is the acceleration the airframe delivers now, one (R, 2)
array the engine keeps (``Swarm.realised_accel``); per step, with the clipped command held::

    a <- a exp(-dt / tau) + a_cmd (1 - exp(-dt / tau))

(the lag solved exactly over a step with the command held, so it is stable for any ``dt``),
then speed limit, move and bound as for the double integrator, with ``a`` as the
acceleration. Left out, on purpose: rotor and motor dynamics (collective thrust follows at
once), aerodynamic and rotor drag, ground effect, downwash between drones, wind, battery sag,
the vertical axis (altitude is held exactly, so climbing never costs horizontal thrust), yaw
(the airframe is symmetric; heading is the velocity's), the overshoot of a real second-order
attitude loop, and per-axis limits (the tilt limit bounds the total tilt, where a flight
controller usually clips roll and pitch each). With ``tau`` -> 0 and limits above
``max_accel`` it is the double integrator again, bit for bit.

Quadrotor in 3-D (``dim = 3``, :func:`_follow_3d`): the command is the desired *net*
acceleration ``(ax, ay, az)``; the airframe must produce the specific thrust ``T = a + g e_z``
(its weight compensated). T is made feasible with the vertical axis first, as flight stacks
prioritise altitude over position (PX4's thrust limiting): ``T_z`` is clipped to ``[0, TW g]``
(rotors push, never pull: the drone falls at most at ``g``; full thrust climbs at ``(TW - 1)
g``), then the horizontal part to ``min(T_z tan(max_tilt), sqrt((TW g)^2 - T_z^2))``: the
tilt limit and the thrust left once the vertical part is paid. At hover (``az = 0``) that is
the 2-D model's ``g min(tan(tilt), sqrt(TW^2 - 1))``; climbing hard leaves less sideways
authority, and falling freely none. The lag then acts on the whole vector, as in 2-D. Left
out in 3-D as well: everything listed above, except that the vertical axis is now flown,
with the weight compensated perfectly (no altitude-loop error).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from swarm.threads import called, parallel_pays, serial_and_parallel

# standard gravity (m/s^2): what the tilt and thrust limits are in units of
GRAVITY = 9.80665


def clip_norm(vectors: np.ndarray, limit: float) -> np.ndarray:
    """Scale rows of ``vectors`` (R, dim) whose norm exceeds ``limit`` down to ``limit``."""
    if not np.isfinite(limit):
        return vectors
    norm = np.sqrt((vectors**2).sum(axis=1))
    scale = np.minimum(1.0, limit / np.maximum(norm, 1e-300))
    return vectors * scale[:, None]


def velocity_command_to_accel(vel: np.ndarray, desired_vel: np.ndarray, dt: float) -> np.ndarray:
    """Acceleration that reaches ``desired_vel`` in one step (before the limits apply)."""
    return (desired_vel - vel) / dt


@numba.njit(cache=True, inline="always")
def _advance(pos, vel, accel, i, dt, max_speed, max_accel, world, torus):
    """Row i's step: clip acceleration, then speed, then move and bound."""
    ax = accel[i, 0]
    ay = accel[i, 1]
    a = np.sqrt(ax * ax + ay * ay)
    if a > max_accel:  # never true for max_accel = inf
        ax *= max_accel / a
        ay *= max_accel / a
    vx = vel[i, 0] + ax * dt
    vy = vel[i, 1] + ay * dt
    v = np.sqrt(vx * vx + vy * vy)
    if v > max_speed:
        vx *= max_speed / v
        vy *= max_speed / v
    x = pos[i, 0] + vx * dt
    y = pos[i, 1] + vy * dt
    if torus:
        x %= world
        y %= world
        if x >= world:  # x % world can round up to world for tiny negative x
            x = 0.0
        if y >= world:
            y = 0.0
    else:
        if x < 0.0:
            x = -x
            vx = -vx
        elif x > world:
            x = 2.0 * world - x
            vx = -vx
        if y < 0.0:
            y = -y
            vy = -vy
        elif y > world:
            y = 2.0 * world - y
            vy = -vy
        x = min(max(x, 0.0), world)
        y = min(max(y, 0.0), world)
    pos[i, 0] = x
    pos[i, 1] = y
    vel[i, 0] = vx
    vel[i, 1] = vy


def _integrate_all(pos, vel, accel, alive, dt, max_speed, max_accel, world, torus):
    """Every row with one limit; each row writes only itself (any thread count)."""
    for i in numba.prange(pos.shape[0]):
        if alive[i]:
            _advance(pos, vel, accel, i, dt, max_speed, max_accel, world, torus)
        else:
            vel[i, 0] = 0.0
            vel[i, 1] = 0.0


def _integrate_each(pos, vel, accel, alive, dt, max_speed, max_accel, world, torus):
    """:func:`_integrate_all` with each row's own limits (teams of different platforms)."""
    for i in numba.prange(pos.shape[0]):
        if alive[i]:
            _advance(pos, vel, accel, i, dt, max_speed[i], max_accel[i], world, torus)
        else:
            vel[i, 0] = 0.0
            vel[i, 1] = 0.0


# on the pool the row step runs faster called than inlined (10^6 drones on a torus, two
# threads: 10.5 against 16.9 ms, the serial compile's 17.4 inlined against 20.4 called)
_ON_THE_POOL = {"_advance": called(_advance)}
_integrate, _integrate_parallel = serial_and_parallel(_integrate_all, _ON_THE_POOL)
_integrate_rows, _integrate_rows_parallel = serial_and_parallel(_integrate_each, _ON_THE_POOL)


@numba.njit(cache=True, inline="always")
def _bound_axis(x, v, world, torus):
    """One coordinate and its velocity after the arena's bound: wrapped, or reflected."""
    if torus:
        x %= world
        if x >= world:  # x % world can round up to world for tiny negative x
            x = 0.0
        return x, v
    if x < 0.0:
        x = -x
        v = -v
    elif x > world:
        x = 2.0 * world - x
        v = -v
    return min(max(x, 0.0), world), v


@numba.njit(cache=True, inline="always")
def _clipped_3d(accel, i, limit):
    """Row i's 3-D command scaled down to norm ``limit`` where it exceeds it."""
    ax = accel[i, 0]
    ay = accel[i, 1]
    az = accel[i, 2]
    a = np.sqrt(ax * ax + ay * ay + az * az)
    if a > limit:  # never true for limit = inf
        ax *= limit / a
        ay *= limit / a
        az *= limit / a
    return ax, ay, az


@numba.njit(cache=True, inline="always")
def _advance_3d(pos, vel, accel, i, dt, max_speed, max_accel, world, torus):
    """:func:`_advance` on the three axes of a cube (the same order of operations)."""
    ax, ay, az = _clipped_3d(accel, i, max_accel)
    vx = vel[i, 0] + ax * dt
    vy = vel[i, 1] + ay * dt
    vz = vel[i, 2] + az * dt
    v = np.sqrt(vx * vx + vy * vy + vz * vz)
    if v > max_speed:
        vx *= max_speed / v
        vy *= max_speed / v
        vz *= max_speed / v
    pos[i, 0], vel[i, 0] = _bound_axis(pos[i, 0] + vx * dt, vx, world, torus)
    pos[i, 1], vel[i, 1] = _bound_axis(pos[i, 1] + vy * dt, vy, world, torus)
    pos[i, 2], vel[i, 2] = _bound_axis(pos[i, 2] + vz * dt, vz, world, torus)


def _integrate_3d_all(pos, vel, accel, alive, dt, max_speed, max_accel, world, torus):
    """:func:`_integrate_all` in 3-D."""
    for i in numba.prange(pos.shape[0]):
        if alive[i]:
            _advance_3d(pos, vel, accel, i, dt, max_speed, max_accel, world, torus)
        else:
            vel[i, 0] = 0.0
            vel[i, 1] = 0.0
            vel[i, 2] = 0.0


def _integrate_3d_each(pos, vel, accel, alive, dt, max_speed, max_accel, world, torus):
    """:func:`_integrate_each` in 3-D."""
    for i in numba.prange(pos.shape[0]):
        if alive[i]:
            _advance_3d(pos, vel, accel, i, dt, max_speed[i], max_accel[i], world, torus)
        else:
            vel[i, 0] = 0.0
            vel[i, 1] = 0.0
            vel[i, 2] = 0.0


_integrate_3d, _integrate_3d_parallel = serial_and_parallel(_integrate_3d_all)
_integrate_3d_rows, _integrate_3d_rows_parallel = serial_and_parallel(_integrate_3d_each)


def integrate(
    pos: np.ndarray,  # (R, dim) updated in place; dim = 2, or 3 (a cube)
    vel: np.ndarray,  # (R, dim) updated in place
    accel: np.ndarray,  # (R, dim) commanded acceleration
    alive: np.ndarray,  # (R,) bool; crashed rows do not move
    dt: float,
    max_speed: float | np.ndarray,  # one limit, or (R,) each row's own
    max_accel: float | np.ndarray,
    world_size: float,
    torus: bool,
) -> None:
    """Advance one step in place: clip acceleration, then speed, then move and bound."""
    accel = np.ascontiguousarray(accel, dtype=np.float64)
    flat = pos.shape[1] == 2
    if np.ndim(max_speed) or np.ndim(max_accel):
        rows = len(pos)
        speed = np.broadcast_to(np.asarray(max_speed, dtype=np.float64), rows)
        limit = np.broadcast_to(np.asarray(max_accel, dtype=np.float64), rows)
        if flat:
            kernel = _integrate_rows_parallel if parallel_pays(rows) else _integrate_rows
        else:
            kernel = _integrate_3d_rows_parallel if parallel_pays(rows) else _integrate_3d_rows
        kernel(pos, vel, accel, alive, float(dt), np.ascontiguousarray(speed),
               np.ascontiguousarray(limit), float(world_size), bool(torus))  # fmt: skip
        return
    if flat:
        kernel = _integrate_parallel if parallel_pays(len(pos)) else _integrate
    else:
        kernel = _integrate_3d_parallel if parallel_pays(len(pos)) else _integrate_3d
    kernel(pos, vel, accel, alive, float(dt), float(max_speed), float(max_accel),
           float(world_size), bool(torus))  # fmt: skip


def tilt_thrust_limit(thrust_to_weight: float, max_tilt_deg: float) -> float:
    """The most horizontal acceleration (m/s^2) an altitude-holding multirotor can make: the
    tilt limit ``g tan(tilt)`` or the thrust left over the weight ``g sqrt(TW^2 - 1)``,
    whichever is smaller."""
    by_tilt = GRAVITY * math.tan(math.radians(max_tilt_deg))
    # (TW - 1)(TW + 1): exact near TW = 1, and inf rather than an OverflowError for huge TW
    by_thrust = GRAVITY * math.sqrt((thrust_to_weight - 1.0) * (thrust_to_weight + 1.0))
    return min(by_tilt, by_thrust)


def lag_keep(dt: float, time_constant: float) -> float:
    """Fraction of the realised acceleration a first-order lag keeps over one step of ``dt``
    (``exp(-dt / tau)``; 0 for ``tau = 0``: no lag)."""
    return math.exp(-dt / time_constant) if time_constant > 0 else 0.0


@numba.njit(cache=True, inline="always")
def _follow(realised, accel, i, limit, keep):
    """Row i's realised acceleration one step on: clip the command to ``limit``, then move
    toward it by the lag's exact step. Written as ``a keep + cmd (1 - keep)`` so that with no
    lag (keep = 0) it is the clipped command bit for bit, as the double integrator uses it."""
    ax = accel[i, 0]
    ay = accel[i, 1]
    a = np.sqrt(ax * ax + ay * ay)
    if a > limit:  # the same clip as _advance's
        ax *= limit / a
        ay *= limit / a
    gain = 1.0 - keep
    realised[i, 0] = realised[i, 0] * keep + ax * gain
    realised[i, 1] = realised[i, 1] * keep + ay * gain


def _quadrotor_all(pos, vel, realised, accel, alive, dt, max_speed, limit, keep, world, torus):
    """:func:`_integrate_all` through the lag; each row writes only its own rows."""
    for i in numba.prange(pos.shape[0]):
        if alive[i]:
            _follow(realised, accel, i, limit, keep)
            _advance(pos, vel, realised, i, dt, max_speed, np.inf, world, torus)
        else:
            vel[i, 0] = 0.0
            vel[i, 1] = 0.0
            realised[i, 0] = 0.0
            realised[i, 1] = 0.0


def _quadrotor_each(pos, vel, realised, accel, alive, dt, max_speed, limit, keep, world, torus):
    """:func:`_quadrotor_all` with each row's own speed and acceleration limits (teams)."""
    for i in numba.prange(pos.shape[0]):
        if alive[i]:
            _follow(realised, accel, i, limit[i], keep)
            _advance(pos, vel, realised, i, dt, max_speed[i], np.inf, world, torus)
        else:
            vel[i, 0] = 0.0
            vel[i, 1] = 0.0
            realised[i, 0] = 0.0
            realised[i, 1] = 0.0


@numba.njit(cache=True, inline="always")
def _follow_3d(realised, accel, i, max_accel, max_thrust, tan_tilt, keep):
    """Row i's realised acceleration in 3-D one step on: the command clipped to
    ``max_accel``, made flyable (specific thrust ``a + g e_z``: vertical part in
    ``[0, max_thrust]`` first, then the horizontal part within the tilt cone and the thrust
    left over), then the lag's exact step, as :func:`_follow`."""
    ax, ay, az = _clipped_3d(accel, i, max_accel)
    tz = min(max(az + GRAVITY, 0.0), max_thrust)
    side = np.sqrt(ax * ax + ay * ay)
    most = min(tz * tan_tilt, np.sqrt(max(max_thrust * max_thrust - tz * tz, 0.0)))
    if side > most:
        ax *= most / side
        ay *= most / side
    az = tz - GRAVITY
    gain = 1.0 - keep
    realised[i, 0] = realised[i, 0] * keep + ax * gain
    realised[i, 1] = realised[i, 1] * keep + ay * gain
    realised[i, 2] = realised[i, 2] * keep + az * gain


def _quadrotor_3d_all(pos, vel, realised, accel, alive, dt, max_speed, max_accel, max_thrust,
                      tan_tilt, keep, world, torus):  # fmt: skip
    """:func:`_quadrotor_each` in 3-D (each row's own speed and acceleration limits)."""
    for i in numba.prange(pos.shape[0]):
        if alive[i]:
            _follow_3d(realised, accel, i, max_accel[i], max_thrust, tan_tilt, keep)
            _advance_3d(pos, vel, realised, i, dt, max_speed[i], np.inf, world, torus)
        else:
            for k in range(3):
                vel[i, k] = 0.0
                realised[i, k] = 0.0


_quadrotor_3d, _quadrotor_3d_parallel = serial_and_parallel(_quadrotor_3d_all)
_quadrotor, _quadrotor_parallel = serial_and_parallel(_quadrotor_all)
_quadrotor_rows, _quadrotor_rows_parallel = serial_and_parallel(_quadrotor_each)


def integrate_quadrotor(
    pos: np.ndarray,  # (R, dim) updated in place
    vel: np.ndarray,  # (R, dim) updated in place
    realised: np.ndarray,  # (R, dim) acceleration the airframe delivers, updated in place
    accel: np.ndarray,  # (R, dim) commanded acceleration
    alive: np.ndarray,  # (R,) bool; crashed rows do not move and their lag resets
    dt: float,
    max_speed: float | np.ndarray,  # one limit, or (R,) each row's own
    max_accel: float | np.ndarray,
    world_size: float,
    torus: bool,
    time_constant: float,  # the lag's tau (s); 0: none
    tilt_thrust: float,  # :func:`tilt_thrust_limit` (m/s^2)
    thrust_to_weight: float = 2.25,  # 3-D only: the thrust limit (TW g)
    max_tilt_deg: float = 30.0,  # 3-D only: the tilt cone
) -> None:
    """Advance one step in place with the quadrotor's lag and limits (module docstring): in
    2-D the command is clipped to ``min(max_accel, tilt_thrust)``; in 3-D to ``max_accel``
    and then to the thrust the airframe can point (vertical first); ``realised`` follows it,
    and the drones move with ``realised``."""
    accel = np.ascontiguousarray(accel, dtype=np.float64)
    keep = lag_keep(float(dt), float(time_constant))
    if pos.shape[1] == 3:
        rows = len(pos)
        speed = np.broadcast_to(np.asarray(max_speed, dtype=np.float64), rows)
        limit = np.broadcast_to(np.asarray(max_accel, dtype=np.float64), rows)
        kernel = _quadrotor_3d_parallel if parallel_pays(rows) else _quadrotor_3d
        kernel(pos, vel, realised, accel, alive, float(dt), np.ascontiguousarray(speed),
               np.ascontiguousarray(limit), float(thrust_to_weight) * GRAVITY,
               math.tan(math.radians(max_tilt_deg)), keep, float(world_size),
               bool(torus))  # fmt: skip
        return
    if np.ndim(max_speed) or np.ndim(max_accel):
        rows = len(pos)
        speed = np.broadcast_to(np.asarray(max_speed, dtype=np.float64), rows)
        limit = np.minimum(np.asarray(max_accel, dtype=np.float64), float(tilt_thrust))
        limit = np.broadcast_to(limit, rows)
        kernel = _quadrotor_rows_parallel if parallel_pays(rows) else _quadrotor_rows
        kernel(pos, vel, realised, accel, alive, float(dt), np.ascontiguousarray(speed),
               np.ascontiguousarray(limit), keep, float(world_size), bool(torus))  # fmt: skip
        return
    limit = min(float(max_accel), float(tilt_thrust))
    kernel = _quadrotor_parallel if parallel_pays(len(pos)) else _quadrotor
    kernel(pos, vel, realised, accel, alive, float(dt), float(max_speed), limit, keep,
           float(world_size), bool(torus))  # fmt: skip
