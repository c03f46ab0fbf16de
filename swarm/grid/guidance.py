"""Guidance graphs: static per-edge move costs that spread traffic over the aisles.

Decentralised PIBT ranks a robot's candidate cells by its distance to its goal, one step at a
time; on a map where every move costs 1, all robots between two places take the same few
shortest paths and queues meet head-on in one-lane aisles. Lifelong MAPF planners route on a
*guidance graph* instead: the same grid, with a weight on every directed edge (and on the
wait action), so that shortest paths form flows that rarely oppose each other (Zhang, Jiang,
Bhatt, Nikolaidis, Li 2024, "Guidance Graph Optimization for Lifelong Multi-Agent Path
Finding", IJCAI; with the same aim, Chen, Harabor, Li, Stuckey 2024, "Traffic Flow
Optimisation for Lifelong Multi-Agent Path Finding", AAAI, route each robot on a cost that
grows with the traffic planned on each edge and direction).

**Crisscross** (:func:`crisscross`) is the human-designed guidance graph Zhang et al. 2024
compare optimised guidance graphs with, as we recall its definition: every row of the map
has a preferred direction, alternating east and west from row to row, and every column one,
alternating north and south; a move along the preferred direction of its row (horizontal
moves) or column (vertical moves) is cheap, a move against it expensive. Here the cheap
move costs 1 and the expensive one ``weight`` (a parameter; we did not take the paper's
values). Nothing is forbidden (a robot can still turn round in a dead end or step aside
for a push): aisles become one-way streets in the cost only, and robots going opposite ways
between the same blocks spread over neighbouring aisles. Waiting costs 1. Even rows
(0, 2, ...) prefer east and even columns prefer south; any fixed choice is a crisscross
(the parity is ours).

**Flow** (:func:`traffic_flow`) fits the move costs to the map's own errands instead, in the
spirit of Chen et al.'s contraflow cost but once, offline, as static map knowledge: a sample
of errands from the later half of the round-robin task stream (:func:`errand_pairs`: the
goal a robot holds and the one it is handed next) is routed batch after batch, each errand
on a cheapest path of the costs the errands before it left, and a move costs more the more
errands use the reverse move. Where errands run both ways between the same places, the
first batches choose freely and the later ones take the parallel aisle, so the fit ends with
one-way streets laid out for that warehouse's traffic, where crisscross lays out the same
pattern on every map. It reads the errands' statistics, as an operator reads an order
history when marking one-way aisles, from tasks the run reaches last (a 5,000-step League
run hands out less than the first fifth of its stream): every robot knows the resulting costs
from the start, and none learns the goal any robot holds. It is still more than the
League's planners were given (they saw revealed tasks only), which comparisons with its
best-known results must say. Goal sequences and one-shot problems are refused (their
errands are particular robots' plans). Priced move by move, the fit can leave neighbouring
cells of one aisle pointing opposite ways; with a ``reach`` (:func:`pooled_flows`) a move is
priced by the traffic of the stretch of aisle within ``reach`` cells of it, so a stretch runs
one way (crisscross's consistency along an aisle, with directions fitted to the errands).

The cost-to-goal of a guided field (:func:`guided_fields`) is a shortest path on this
directed weighted graph, computed from the goal over the reversed edges with Dial's bucket
queue (Dial 1969, "Algorithm 360: shortest-path forest with topological ordering", CACM
12(11)): integer weights up to ``W`` keep the open cells in ``W + 1`` buckets, O(cells + W)
per field, a small constant above the unweighted BFS (2-3x measured on the League's large
maps, on a loaded machine).
Fields are static map knowledge, like the BFS fields: every robot knows the map and the
guidance, so the guided field of its own goal is local knowledge
(:class:`swarm.grid.distance.GuidedFields`, ``obs.known["guide"]``).
"""

from __future__ import annotations

import numba
import numpy as np

from swarm.grid.maps import GridMap, Instance
from swarm.threads import serial_and_parallel

GUIDANCES = ("none", "crisscross", "flow")
MAX_WEIGHT = 255  # move costs are kept as uint8 (the search reads one per edge)
# the move code (GridMap.neighbors column) opposite each one: wait, north, east, south, west
OPPOSITE = np.array([0, 3, 4, 1, 2], np.int64)


def crisscross(grid: GridMap, weight: int) -> np.ndarray:
    """(F, 5) int64 cost of each move from each free cell, by ``GridMap.neighbors`` column
    (0 wait, 1 north, 2 east, 3 south, 4 west): 1 along the preferred direction of the
    move's row (even rows east, odd rows west) or column (even columns south, odd columns
    north), ``weight`` against it; waiting costs 1. Moves into walls keep a cost too (their
    neighbour entry is -1; readers skip them)."""
    if not 1 <= int(weight) <= MAX_WEIGHT:
        raise ValueError(f"guidance weight must be an integer in 1..{MAX_WEIGHT} (got {weight})")
    rows, cols = np.divmod(grid.free_cells.astype(np.int64), grid.width)
    east = rows % 2 == 0
    south = cols % 2 == 0
    w = np.int64(weight)
    cost = np.ones((len(rows), 5), np.int64)
    cost[:, 1] = np.where(south, w, 1)  # north: against a southbound column
    cost[:, 2] = np.where(east, 1, w)
    cost[:, 3] = np.where(south, 1, w)
    cost[:, 4] = np.where(east, w, 1)
    return cost


def guidance_costs(
    grid: GridMap, guidance: str, weight: int,
    errands: tuple[np.ndarray, np.ndarray] | None = None, reach: int = 0,
) -> np.ndarray | None:  # fmt: skip
    """The (F, 5) move costs of a named guidance (None for ``"none"``: unit costs);
    ``"flow"`` is fitted to ``errands`` (origin and destination free indices,
    :func:`errand_pairs`), pooled over ``reach`` cells of aisle (:func:`pooled_flows`)."""
    if guidance == "none":
        return None
    if guidance == "crisscross":
        return crisscross(grid, weight)
    if guidance == "flow":
        if errands is None:
            raise ValueError("flow guidance needs the errands it is fitted to")
        return traffic_flow(grid, errands[0], errands[1], weight, reach=reach)
    raise ValueError(f"guidance {guidance!r}; allowed: {', '.join(GUIDANCES)}")


def incoming_costs(nbr: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """(F, 5) uint8: entry [v, k] is the cost of the move from ``nbr[v, k]`` into ``v`` (the
    reversed edge a field from the goal relaxes); 0 where ``nbr[v, k]`` is a wall."""
    src = nbr[:, 1:].astype(np.int64)
    inc = np.zeros(cost.shape, np.uint8)  # small: the search reads it for every cell
    back = OPPOSITE[1:][None, :].repeat(len(nbr), axis=0)
    ok = src >= 0
    inc[:, 1:][ok] = cost[src[ok], back[ok]]
    return inc


@numba.njit(cache=True)
def _dial_into(nbr, inc, goal, out, queue, size, unreached):
    """Guided cost-to-goal of free cell ``goal`` into ``out`` (F,), ``unreached`` where none.

    Dial's algorithm: bucket ``d mod B`` (``queue[b, :size[b]]``, B = max cost + 1) holds
    the cells reached at cost d. A level's pushes go to the next B - 1 buckets, never its
    own, so a bucket is emptied whole and reused; a cell improved again is pushed again and
    its stale entry skipped (each cell is pushed at most once per level, so F entries a
    bucket suffice). ``queue`` (B, F) and ``size`` (B,) are scratch."""
    nb = queue.shape[0]
    out[:] = unreached
    size[:] = 0
    out[goal] = 0
    queue[0, 0] = goal
    size[0] = 1
    pending = 1
    cur = 0
    while pending > 0:
        b = cur % nb
        count = size[b]
        for j in range(count):
            v = queue[b, j]
            if out[v] != cur:
                continue  # a stale entry: v was reached cheaper since
            for k in range(1, 5):
                u = nbr[v, k]
                if u < 0:
                    continue
                c = np.int64(inc[v, k])
                nd = cur + c
                if nd < out[u]:
                    out[u] = nd
                    t = b + c  # nd mod nb, without a division
                    if t >= nb:
                        t -= nb
                    queue[t, size[t]] = u
                    size[t] += 1
                    pending += 1
        pending -= count
        size[b] = 0
        cur += 1


def _dial_chunks(nbr, inc, goals, slots, bank, unreached, wmax, n_chunks):
    """Guided fields of free cells ``goals`` into the distinct rows ``slots`` of ``bank``,
    in ``n_chunks`` interleaved chunks with a scratch each: every field depends on its goal
    alone."""
    n = nbr.shape[0]
    for c in numba.prange(n_chunks):
        field = np.empty(n, np.int64)
        queue = np.empty((wmax + 1, n), np.int32)  # free cells < 2^31 (maps <= 4 M cells)
        size = np.empty(wmax + 1, np.int64)
        for i in range(c, goals.shape[0], n_chunks):
            _dial_into(nbr, inc, goals[i], field, queue, size, unreached)
            row = bank[slots[i]]
            for v in range(n):
                row[v] = field[v]


_dial_serial, _dial_parallel = serial_and_parallel(_dial_chunks)
# cell visits (fields x free cells) in one call from which the fields are computed on the
# thread pool: a 140 x 500 League map's field is ~50,000 visits (0.2-0.4 ms); the training
# envs' maps are a few hundred cells and stay on one thread
PARALLEL_MIN_FIELD_CELLS = 100_000


def fields_chunks(count: int, n_free: int) -> int:
    """How many chunks to compute ``count`` fields of ``n_free`` cells in (1: serial)."""
    if count < 2 or count * n_free < PARALLEL_MIN_FIELD_CELLS:
        return 1
    return min(count, numba.get_num_threads())


def guided_fields(
    nbr: np.ndarray, inc: np.ndarray, goals: np.ndarray, out: np.ndarray, slots: np.ndarray,
    unreached: int,
) -> None:  # fmt: skip
    """Write the guided cost-to-goal fields of free-index ``goals`` into ``out[slots]``
    (``inc``: the incoming move costs, :func:`incoming_costs`); ``unreached`` marks cells
    that cannot reach the goal."""
    goals = np.asarray(goals, np.int64)
    chunks = fields_chunks(len(goals), nbr.shape[0])
    kernel = _dial_parallel if chunks > 1 else _dial_serial
    kernel(nbr, inc, goals, np.asarray(slots, np.int64), out, int(unreached), int(inc.max()),
           chunks)  # fmt: skip


def guided_distance(grid: GridMap, cost: np.ndarray, goal_cell: int) -> np.ndarray:
    """(H, W) int64 guided cost from each cell to ``goal_cell`` (linear index); -1 where
    unreachable or a wall (the guided counterpart of :func:`swarm.grid.distance.bfs`)."""
    fid = int(grid.free_id[goal_cell])
    if fid < 0:
        raise ValueError(f"goal cell {goal_cell} is an obstacle")
    unreached = np.iinfo(np.int64).max
    field = np.empty((1, len(grid.free_cells)), np.int64)
    nbr = np.ascontiguousarray(grid.neighbors)
    guided_fields(nbr, incoming_costs(nbr, cost), np.array([fid]), field, np.array([0]),
                  unreached)  # fmt: skip
    out = np.full(grid.n_cells, -1, np.int64)
    out[grid.free_cells] = np.where(field[0] == unreached, -1, field[0])
    return out.reshape(grid.height, grid.width)


# ------------------------------------------------------------------ flow guidance
FLOW_PAIRS = 2048  # errands the fit routes
FLOW_BATCHES = 16  # routed one batch after another, each against the flows before it
FLOW_PASSES = 3  # the first pass, then rip-up and reroute of every batch
# errands on both directions of a move below which it counts as lightly used (a move's
# contraflow price grows with its traffic up to the busy level, the larger of this and the
# mean of a used move)
FLOW_BUSY_FLOOR = 4.0
# per free cell: the flow of every batch and the total (int32, 5 moves), and per thread a
# chunk's flows, field and Dial buckets (w + 1 of them; w <= 64 here)
FLOW_BYTES_PER_CELL = (FLOW_BATCHES + 1) * 5 * 4
FLOW_BYTES_PER_CELL_THREAD = 5 * 4 + 8 + 65 * 4


def errand_pairs(
    instance: Instance, wrap: str = "cycle", count: int = FLOW_PAIRS
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` errands (origin, destination free indices, origin != destination)
    of a round-robin task stream: task i and task i + n (mod m under ``wrap = "cycle"``),
    the goal a robot holds and the one it is handed next, for i in the later half of the
    stream (the part a run reaches last: 5,000 steps of the League's main round hand out
    less than the first fifth of its 500,000 tasks), evenly spaced. What the fit reads is
    then the errands' statistics, as an operator's order history, not the goal any robot
    holds. Goal sequences and one-shot problems are refused: their errands are particular
    robots' plans, which no robot may read."""
    if instance.offsets is not None or instance.one_shot:
        raise ValueError(
            "flow guidance is fitted to a round-robin task stream; goal sequences and "
            "one-shot problems have none (their errands are the robots' own plans)"
        )
    goals = instance.grid.free_id[instance.tasks]
    m, n = len(goals), instance.n_agents
    first = np.arange(m // 2, m)
    after = first + n
    if wrap == "cycle":
        after %= m
    else:
        first, after = first[after < m], after[after < m]
    origin, dest = goals[first], goals[after]
    keep = origin != dest
    origin, dest = origin[keep], dest[keep]
    if len(origin) > count:
        pick = np.linspace(0, len(origin) - 1, count).astype(np.int64)
        origin, dest = origin[pick], dest[pick]
    return origin.astype(np.int64), dest.astype(np.int64)


def traffic_flow(
    grid: GridMap, origins: np.ndarray, dests: np.ndarray, weight: int,
    passes: int = FLOW_PASSES, reach: int = 0,
) -> np.ndarray:  # fmt: skip
    """(F, 5) move costs fitted to the traffic of ``origins`` -> ``dests`` errands.

    Errands are routed in :data:`FLOW_BATCHES` batches (by destination), each on a shortest
    path of the costs the batches before it left (straight on while that is shortest, ties
    spread over equal paths), then ``passes - 1`` times more, each batch taken off and
    rerouted against all the others (incremental assignment, then rip-up and reroute: the
    first errands choose freely and the later ones avoid running against them, which breaks
    the symmetry an average of flows keeps; averaged flows, tried first, gave half the gain
    on the small test map). The costs returned price every move by the traffic of all the
    errands coming the other way (:func:`_contraflow_costs`): a move against a busy stream
    costs up to ``weight``; waiting costs 1. The result is one-way streets where the
    errands make them worth it. ``reach`` > 0 prices each move by the traffic of the stretch
    of aisle within ``reach`` cells of it (:func:`pooled_flows`), during the fit and in the
    result, so that one stretch of aisle runs one way. The same costs on any thread count
    (integer flows, pooled serially; each errand's path depends on its destination and its
    own index alone)."""
    if not 1 <= int(weight) <= MAX_WEIGHT:
        raise ValueError(f"guidance weight must be an integer in 1..{MAX_WEIGHT} (got {weight})")
    if int(reach) < 0:
        raise ValueError(f"guidance reach must be an integer >= 0 (got {reach})")
    nbr = np.ascontiguousarray(grid.neighbors)
    n_free = len(nbr)
    cost = np.ones((n_free, 5), np.int64)
    if len(origins) == 0 or weight == 1:
        return cost
    order = np.argsort(dests, kind="stable")
    targets, first = np.unique(dests[order], return_index=True)
    ptr = np.append(first, len(order)).astype(np.int64)
    starts = np.asarray(origins, np.int64)[order]
    src = nbr[:, 1:].astype(np.int64)
    wall = src < 0
    back = np.broadcast_to(OPPOSITE[1:], src.shape)
    batches = [np.arange(b, len(targets), FLOW_BATCHES) for b in range(FLOW_BATCHES)]
    routed: list[np.ndarray | None] = [None] * FLOW_BATCHES
    flow = np.zeros((n_free, 5), np.int32)
    chunks = numba.get_num_threads()
    for _ in range(passes):
        for b, which in enumerate(batches):
            if routed[b] is not None:
                flow -= routed[b]
            cost[:, 1:] = _contraflow_costs(
                pooled_flows(grid, flow, reach), src, wall, back, int(weight)
            )
            routed[b] = _route_errands(nbr, incoming_costs(nbr, cost), cost, targets, ptr,
                                       starts, which, int(cost.max()),
                                       np.iinfo(np.int64).max, chunks)  # fmt: skip
            flow += routed[b]
    cost[:, 1:] = _contraflow_costs(pooled_flows(grid, flow, reach), src, wall, back, int(weight))
    return cost


def pooled_flows(grid: GridMap, flow: np.ndarray, reach: int) -> np.ndarray:
    """(F, 5) float64: each move's errands averaged over the cells within ``reach`` of its
    own along the same straight run of free cells (east and west moves along the row's
    run, north and south along the column's; a wall ends a run); ``reach`` 0: the flows as
    they are. Per-move flows can point opposite ways in neighbouring cells of one aisle,
    where errands that enter and leave it at different places cross; priced on the pooled
    flows, a stretch of aisle gets one direction."""
    out = flow.astype(np.float64)
    if reach <= 0:
        return out
    nbr = grid.neighbors
    rows, cols = np.divmod(grid.free_cells.astype(np.int64), grid.width)
    # free indices are row-major, so a row's run is consecutive in them; sorted by column
    # then row, so is a column's
    for order, behind, moves in (
        (np.arange(len(rows)), 4, (2, 4)),  # a run starts where the cell to the west is a wall
        (np.lexsort((rows, cols)), 1, (1, 3)),  # ... where the cell to the north is
    ):
        pos = np.arange(len(order))
        starts = nbr[order, behind] < 0
        ends = np.append(starts[1:], True)
        first = np.maximum.accumulate(np.where(starts, pos, 0))
        last = np.minimum.accumulate(np.where(ends, pos, len(pos))[::-1])[::-1]
        lo, hi = np.maximum(first, pos - reach), np.minimum(last, pos + reach)
        for k in moves:
            total = np.concatenate(([0.0], np.cumsum(out[order, k])))
            out[order, k] = (total[hi + 1] - total[lo]) / (hi - lo + 1)
    return out


def _contraflow_costs(
    flow: np.ndarray, src: np.ndarray, wall: np.ndarray, back: np.ndarray, weight: int
) -> np.ndarray:
    """(F, 4) costs of the four moves from each cell given the errands on every move:
    ``1 + round((weight - 1) * busy * opposite / (opposite + same))``, ``opposite`` the
    errands on the reverse move, ``same`` those on the move itself, ``busy`` the errands on
    both over the busy level (the mean of a used move, at least
    :data:`FLOW_BUSY_FLOOR`), at most 1: a lightly used aisle stays cheap both ways, a busy
    one-way stream makes the move against it cost ``weight``."""
    same = flow[:, 1:].astype(np.float64)
    opposite = np.where(wall, 0.0, flow[np.maximum(src, 0), back])
    both = same + opposite
    used = same[same > 0]
    level = max(float(used.mean()) if len(used) else 0.0, FLOW_BUSY_FLOOR)
    share = np.divide(opposite, both, out=np.zeros_like(both), where=both > 0)
    busy = np.minimum(1.0, both / level)
    return 1 + np.rint((weight - 1) * busy * share).astype(np.int64)


@numba.njit(cache=True, parallel=True)
def _route_errands(nbr, cost_in, cost, targets, ptr, starts, which, wmax, unreached, n_chunks):
    """(F, 5) int32 errands using each move when every errand ``ptr[i]:ptr[i + 1]`` of
    ``starts`` for ``i`` in ``which`` follows a shortest path of ``cost`` to free cell
    ``targets[i]``: straight on while that is a shortest path (as robots that pay for every
    turn drive), else the first shortest direction in the errand's own rotation of the four,
    which spreads errands over equal paths. The destinations are split into ``n_chunks`` fixed
    chunks routed in parallel."""
    n = nbr.shape[0]
    flows = np.zeros((n_chunks, n, 5), np.int32)
    for c in numba.prange(n_chunks):
        field = np.empty(n, np.int64)
        queue = np.empty((wmax + 1, n), np.int32)
        size = np.empty(wmax + 1, np.int64)
        for w in range(c, which.shape[0], n_chunks):
            i = which[w]
            _dial_into(nbr, cost_in, targets[i], field, queue, size, unreached)
            for j in range(ptr[i], ptr[i + 1]):
                v = starts[j]
                if field[v] == unreached:
                    continue
                k = 0
                while field[v] > 0:
                    u = nbr[v, k] if k > 0 else -1
                    if u < 0 or field[u] + cost[v, k] != field[v]:
                        for q in range(4):  # a turn: the errand's own order of directions
                            k = 1 + ((j + q) & 3)
                            u = nbr[v, k]
                            if u >= 0 and field[u] + cost[v, k] == field[v]:
                                break
                    flows[c, v, k] += 1
                    v = u
    total = np.zeros((n, 5), np.int32)
    for c in range(n_chunks):
        total += flows[c]
    return total
