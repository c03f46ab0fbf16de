"""Warehouse controllers: the locality contract, and known behaviour of PIBT."""

import numba
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from envs.warehouse import WarehouseModel, warehouse_policies
from policies.pibt import PIBT, _relayed, _relayed_parallel, _relayed_serial
from swarm.grid.distance import DistanceBank
from swarm.grid.layout import LayoutParams
from swarm.grid.maps import parse_map
from swarm.grid.tasks import LeagueTasks
from swarm.grid.world import GridWorld

SENSE, COMM = 2.5, 3.5
LAYOUT = LayoutParams(block_rows=3, block_cols=3, shelf_width=4)


def test_every_warehouse_policy_is_registered():
    assert {"pibt", "greedy_yield", "auction"} <= set(warehouse_policies())


def within_hops(obs, i: int, hops: int) -> set[int]:
    """Robots whose state can reach robot i's action through ``hops`` message rounds: i's
    sensed robots and comm neighbours, theirs, ... ``hops`` deep."""
    reach, frontier = {i}, {i}
    for _ in range(hops):
        frontier = {
            k
            for x in frontier
            for k in (*obs.neighbors.neighbors_of(x), *obs.links.neighbors_of(x))
        } - reach
        reach |= frontier
    return reach


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("pibt", {"rounds": 1, "arbitrate": False, "relay_radius": 0}),  # strictly one hop
        ("pibt", {"rounds": 1, "arbitrate": False}),  # a beacon round and the relay: two hops
        ("pibt", {}),  # the default: three planning rounds and an arbitration round
        ("pibt", {"unknown_cells": "occupied", "relay_vouches": True}),  # no further hop
        ("greedy_yield", {}),
        ("auction", {}),
    ],
)
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**16), data=st.data())
def test_far_robots_do_not_change_a_robots_action(name, params, seed, data):
    """Moving a robot that no message round can reach (beyond ``message_hops`` hops of the
    comm and sensing graphs, before and after the move) leaves robot i's action unchanged."""
    tasks = "poisson" if name == "auction" else "league"
    model = WarehouseModel(
        n_agents=30, layout=LAYOUT, policy=name, tasks=tasks, orders_rate=1.0,
        sense_radius=SENSE, comm_radius=COMM, packet_drop=0.2, rng=seed, policy_params=params,
    )  # fmt: skip
    for _ in range(4):
        model.step()
    obs = model.observe(with_board=True)
    before = decide(model)
    claims_before = model.policy.claim(model.observe(True, model.policy.claim_rounds()))
    hops = model.policy.message_hops
    i = data.draw(st.integers(0, 29), label="observer")
    near = within_hops(obs, i, hops)
    far = [j for j in range(30) if j not in near]
    assume(far)
    j = data.draw(st.sampled_from(far), label="moved")
    inner = sorted(within_hops(obs, i, hops - 1))  # their neighbours must not gain j
    g = model.grid_map
    rc = g.rowcol(model.world.cell)
    free = g.rowcol(g.free_cells)
    empty = ~np.isin(g.free_cells, model.world.cell)
    gap = np.sqrt(((free[:, None, :] - rc[None, inner, :]) ** 2).sum(axis=2)).min(axis=1)
    options = np.flatnonzero(empty & (gap > max(SENSE, COMM)))
    assume(len(options))
    target = free[data.draw(st.sampled_from(options.tolist()), label="to")]
    model.robots[j].move_to(tuple(target))
    after = decide(model)
    assert after[i] == before[i]
    claims_after = model.policy.claim(model.observe(True, model.policy.claim_rounds()))
    assert claims_after[0][i] == claims_before[0][i]
    assert claims_after[1][i] == claims_before[1][i]


def decide(model: WarehouseModel) -> np.ndarray:
    """The controller's actions now, its message rounds carried by a fresh radio."""
    return model.policy.act(model.observe(rounds=model.policy.rounds()))


def run_plain(text, starts, tasks, policy, steps, comm=5.0, motion="grid"):
    """Robots on a literal map with the League stream, one task each (wrap=stop)."""
    grid = parse_map(text)
    bank = DistanceBank(grid)
    world = GridWorld(grid, np.array(starts), sense_radius=3.0, comm_radius=comm, bank=bank,
                      motion=motion)  # fmt: skip
    stream = LeagueTasks(grid, bank, np.array(tasks), len(starts), wrap="stop")
    for _ in range(steps):
        radio = world.radio(policy.rounds(), phase=1, who=policy.name)
        obs = world.observe(stream.goal, stream.goal_slot, stream.task_age(world.t),
                            stream.phase, radio)  # fmt: skip
        actions = policy.act(obs)
        policy.commit(obs, actions)
        counts = world.apply(actions)
        assert counts.vertex_collisions == counts.swap_collisions == 0
        stream.update(world.cell, world.t)
    return stream


def test_pibt_swaps_head_on_robots_on_a_ring_road():
    # Okumura et al. 2022, Thm. 2: on a biconnected graph every agent reaches its goal; here
    # two robots meet head-on on the short side of a ring: one is pushed round the ring
    text = "type octile\nheight 3\nwidth 5\nmap\n.....\n.@@@.\n.....\n"
    stream = run_plain(text, [0, 4, 12], [4, 0, 12], PIBT(seed=1), 20)
    assert stream.finished[:2].tolist() == [1, 1]


def test_pibt_with_a_full_view_never_attempts_a_conflict():
    # every robot hears every other: all local problems equal the global one, so the local
    # plans agree and the world never has to cancel a move
    model = WarehouseModel(n_agents=40, layout=LAYOUT, policy="pibt", comm_radius=100, rng=3)
    for _ in range(150):
        model.step()
    m = model.metrics
    assert m["attempted_conflicts"] == 0 and m["executed_collisions"] == 0
    assert m["tasks_finished"] > 100


def test_message_rounds_break_the_queue_deadlocks_of_local_views():
    """40 robots, one-lane aisles, a 5-cell radio. One beacon round and no carried
    inheritance: the local plans of two queues meeting head-on disagree and the queues lock.
    With the default (carried inheritance that keeps growing with the task age, three
    planning rounds, an arbitration round) nobody is stuck, and throughput equals that of
    PIBT given the whole map in range (global PIBT, Okumura et al. 2022)."""
    layout = LayoutParams(block_rows=4, block_cols=6)

    def run(comm: float, **params) -> dict:
        model = WarehouseModel(
            n_agents=40, layout=layout, policy="pibt", comm_radius=comm, rng=2,
            policy_params=params,
        )  # fmt: skip
        for _ in range(400):
            model.step()
        return model.metrics

    naive = run(5.0, rounds=1, arbitrate=False, carry_inheritance=False, relay_radius=0)
    default = run(5.0)
    global_view = run(1000.0)
    assert naive["deadlocked"] > 20
    assert default["deadlocked"] == 0 and default["executed_collisions"] == 0
    assert default["tasks_finished"] > 2 * naive["tasks_finished"]
    assert default["tasks_finished"] >= 0.95 * global_view["tasks_finished"]


def test_relay_round_unlocks_dense_one_lane_aisles():
    """80 robots (a quarter of the free cells) on one-lane aisles with a 5-cell radio: the
    push chains outgrow the views and the queues lock; with the relay round of the robots
    next to a blocked one (the default) nobody is stuck and throughput is several times
    higher. The hop count grows by one with the relay."""
    layout = LayoutParams(block_rows=4, block_cols=6)

    def run(**params) -> tuple[dict, int]:
        model = WarehouseModel(n_agents=80, layout=layout, policy="pibt", comm_radius=5.0,
                               rng=1, policy_params=params)  # fmt: skip
        for _ in range(500):
            model.step()
        return model.metrics, model.policy.message_hops

    (without, hops_without), (default, hops) = run(relay_radius=0), run()
    assert without["deadlocked"] > 40
    assert default["deadlocked"] == 0 and default["executed_collisions"] == 0
    assert default["tasks_finished"] > 3 * without["tasks_finished"]
    assert (hops_without, hops) == (6, 7)


def test_pibt_is_deterministic_per_seed():
    def cells(seed):
        model = WarehouseModel(n_agents=25, layout=LAYOUT, policy="pibt", rng=seed)
        for _ in range(40):
            model.step()
        return model.world.cell.copy()

    assert np.array_equal(cells(5), cells(5))
    assert not np.array_equal(cells(5), cells(6))


# ----------------------------------------------------------------- the relay scan
def _relay_reference(
    fcell, need, ptr0, cell0, ref0, rptr, rref, entry_ptr, table, free_cells, row_of, col_of,
    height, width, r2,
):  # fmt: skip
    """The relay scan as first written: per receiver, the first entry from each cell in
    packet order, not heard directly, within r2; then stably by descending priority."""
    out = []
    for i in range(len(fcell)):
        kept = []
        if need[i]:
            met = {int(fcell[i])} | {int(cell0[ref0[e]]) for e in range(ptr0[i], ptr0[i + 1])}
            ri, ci = divmod(int(free_cells[fcell[i]]), width)
            for e in range(rptr[i], rptr[i + 1]):
                for f in range(entry_ptr[rref[e]], entry_ptr[rref[e] + 1]):
                    k = int(table[f, 0])
                    if k in met:
                        continue
                    met.add(k)
                    rk, ck = divmod(int(free_cells[k]), width)
                    if (rk - ri) ** 2 + (ck - ci) ** 2 <= r2:
                        kept.append((e, table[f]))
        kept.sort(key=lambda t: -t[1][1])  # stable
        out.append(kept)
    return out


def _random_relay_instance(seed: int) -> tuple:
    """The arguments of :func:`_relayed` on a random small map: heard and relayed beacons,
    many equal priorities, and (one seed in four) a relayed copy that differs."""
    rng = np.random.default_rng(seed)
    width, height = int(rng.integers(3, 20)), int(rng.integers(2, 15))
    free = np.flatnonzero(rng.random(width * height) < 0.8)
    n = int(rng.integers(2, min(len(free), 50) + 1))
    cells = rng.choice(len(free), n, replace=False)
    beacons = np.zeros((n, 8))
    beacons[:, 0] = cells
    beacons[:, 1] = rng.integers(0, 4, n) + rng.choice([0.0, 0.5], n)  # many equal priorities
    beacons[:, 2:7] = rng.integers(-1, len(free), (n, 5))
    rc, cc = np.divmod(free[cells], width)
    near = (rc[:, None] - rc) ** 2 + (cc[:, None] - cc) ** 2 <= rng.choice([2.0, 9.0, 1e4])
    hears = near & ~np.eye(n, dtype=bool) & (rng.random((n, n)) < 0.9)
    heard = [rng.permutation(np.flatnonzero(h)) for h in hears]
    ptr0 = np.concatenate([[0], np.cumsum([len(h) for h in heard])]).astype(np.int64)
    ref0 = np.concatenate([*heard, np.zeros(0, int)]).astype(np.int64)
    table = np.concatenate([beacons[h] for h in heard] + [np.zeros((0, 8))])
    if seed % 4 == 0 and len(table):
        table[rng.integers(len(table)), 1] += 1.0  # one relayed copy differs
    relayers = [rng.permutation(np.flatnonzero(h)) for h in hears]
    rptr = np.concatenate([[0], np.cumsum([len(r) for r in relayers])]).astype(np.int64)
    rref = np.concatenate([*relayers, np.zeros(0, int)]).astype(np.int64)
    args = (
        cells.astype(np.int64),
        rng.random(n) < 0.7,
        ptr0,
        beacons[:, 0],
        ref0,
        rptr,
        rref,
        ptr0.copy(),
        np.ascontiguousarray(table),
        free.astype(np.int64),
        *np.divmod(free.astype(np.int64), width),
        height,
        width,
        float(rng.choice([1.0, 8.0, 25.0, 1e4])),
    )
    return args


@pytest.mark.parametrize("seed", range(40))
def test_relay_scan_matches_the_plain_scan_it_replaced(seed):
    """The tiled, deduplicated relay scan gives each robot what the entry-by-entry scan
    gave: the first copy of each robot's beacon in packet order, not heard directly, within
    the relay radius, stably sorted by descending priority (equal priorities and a differing
    relayed copy included)."""
    args = _random_relay_instance(seed)
    ptr, packet, rows, distinct = _relayed(*args)
    for i, kept in enumerate(_relay_reference(*args)):
        part = slice(ptr[i], ptr[i + 1])
        assert packet[part].tolist() == [e for e, _ in kept]
        expected = np.array([m for _, m in kept]).reshape(-1, 8)
        np.testing.assert_array_equal(distinct[rows[part]], expected)


@pytest.mark.parametrize("seed", range(40))
def test_relay_scan_is_the_same_on_one_and_two_threads(seed):
    """The relay scan on the thread pool (receivers in chunks, each part in a region of its
    own, then compacted) gives the serial scan's arrays bit for bit, on any thread count
    and number of chunks."""
    args = _random_relay_instance(seed)
    expected = _relayed_serial(*args, 1)
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            for chunks in (1, 2, 3):
                got = _relayed_parallel(*args, chunks)
                for a, b in zip(got, expected, strict=True):
                    assert a.dtype == b.dtype
                    np.testing.assert_array_equal(a, b)
    finally:
        numba.set_num_threads(before)


def test_an_owned_relay_round_is_carried_without_a_copy_and_stays_unchangeable():
    """``owned=True`` (PIBT's relay round): the fresh table is carried as it is, read-only;
    the same call without it, or with a view of another array, is carried as a copy; the
    audit's single-robot radio keeps what was sent either way."""
    from swarm.grid.layout import LayoutParams, generate_layout
    from swarm.radio import ReplayRadio, Round

    g = generate_layout(LayoutParams(block_rows=2, block_cols=2, shelf_width=3))
    starts = np.random.default_rng(0).choice(g.free_cells, 40, replace=False)
    world = GridWorld(g, starts, sense_radius=2.0, comm_radius=3.5)
    rounds = (Round("relay", 1, per_link=True),)
    radio = world.radio(rounds, phase=1, who="t")
    count = np.minimum(np.diff(world.links.ptr), 2)
    ptr = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
    entries = np.repeat(np.arange(40.0), count)[:, None].copy()  # owns its data
    copied = world.radio(rounds, phase=1, who="t").send(
        "relay", entries.copy(), entry_ptr=ptr.copy()
    )
    inbox = radio.send("relay", entries, entry_ptr=ptr, owned=True)
    assert inbox.table is entries and not entries.flags.writeable
    assert not ptr.flags.writeable
    with pytest.raises(ValueError):
        entries[0, 0] = 1.0
    assert np.array_equal(inbox.entries().msg, copied.entries().msg)
    base = np.repeat(np.arange(40.0), count)[:, None].copy()
    view = base[:]  # not owned: its base can still change it
    inbox = world.radio(rounds, phase=1, who="t").send("relay", view, entry_ptr=ptr, owned=True)
    base[:] = -1.0
    assert np.array_equal(inbox.entries().msg, copied.entries().msg)
    replay = ReplayRadio([("relay", inbox)])
    mine = np.ones((2, 1))
    replay.send("relay", mine, entry_ptr=np.array([0, 2]))
    mine[:] = 5.0  # not owned: the kept copy does not change
    assert replay.sent[0][1].tolist() == [[1.0], [1.0]] and not replay.sent[0][1].flags.writeable


def test_distance_priority_subtracts_k_cells_of_distance_from_the_task_age():
    """``distance_priority`` k: priority = task age + keyed fraction - k x the robot's hop
    distance to its goal (breadth-first on the map's graph here, by networkx), 0 for a robot
    without a task; k = 0 is the task age alone."""
    import networkx as nx

    from swarm.grid.policy import priorities

    model = WarehouseModel(n_agents=30, layout=LAYOUT, rng=3, league_wrap="stop", n_tasks=40)
    for _ in range(25):
        model.step()
    obs = model.observe()
    goal, fcell = model.tasks.goal, obs.own["fcell"]
    assert (goal < 0).any() and (goal >= 0).any()
    nbr = model.grid_map.neighbors
    graph = nx.Graph((a, int(b)) for a in range(len(nbr)) for b in nbr[a, 1:] if b >= 0)
    free_goal = model.grid_map.free_id[np.maximum(goal, 0)]
    hops = [nx.shortest_path_length(graph, int(fcell[i]), int(free_goal[i])) if goal[i] >= 0
            else 0 for i in range(obs.n)]  # fmt: skip
    age = priorities(obs, seed=5)
    assert np.all((age - obs.own["task_age"] >= 0) & (age - obs.own["task_age"] < 1))
    np.testing.assert_allclose(priorities(obs, 5, distance_weight=30), age - 30 * np.array(hops))


@pytest.mark.parametrize("motion", ["grid", "rotate"])
def test_pibt_with_distance_priority_is_local_and_collision_free(motion):
    from swarm.testing import assert_local

    rough = dict(layout=LAYOUT, sense_radius=SENSE, comm_radius=COMM, packet_drop=0.2,
                 max_inbox=6, motion=motion)  # fmt: skip
    params = {"distance_priority": 30}
    assert assert_local("pibt", "warehouse", n_agents=30, steps=12, policy_params=params,
                        **rough) == 360  # fmt: skip
    model = WarehouseModel(n_agents=60, rng=1, policy_params=params, **rough)
    for _ in range(200):
        model.step()
    assert model.metrics["executed_collisions"] == 0 and model.metrics["tasks_finished"] > 0


@pytest.mark.parametrize("view", ["local", "global"])
def test_pibt_plans_with_the_distance_priority(monkeypatch, view):
    """Both views hand PIBT the priorities with k's distance term (a spy on the priority
    function records what the planner used), and the plan differs from k = 0's."""
    import policies.pibt as pibt_module

    used = []
    real = pibt_module.priorities

    def spy(obs, seed, distance_weight=0):
        used.append(distance_weight)
        return real(obs, seed, distance_weight)

    monkeypatch.setattr(pibt_module, "priorities", spy)
    plans = {}
    for k in (0, 1000):
        model = WarehouseModel(n_agents=80, layout=LAYOUT, rng=2, motion="rotate",
                               policy_params={"distance_priority": k, "view": view})  # fmt: skip
        for _ in range(30):
            model.step()
        plans[k] = model.world.cell.copy()
    assert set(used) == {0, 1000}
    assert not np.array_equal(plans[0], plans[1000])


def test_an_unreachable_goal_adds_no_distance_to_the_priority():
    """A goal the robot cannot reach reads as the bank's ``unreached`` sentinel; it must not
    become a distance (k x 65,535 would sink the robot below every other for good)."""
    from types import SimpleNamespace

    from swarm.grid.policy import priorities

    class Bank:
        unreached = 65_535

        def lookup(self, slots, cells):
            return np.where(cells == 1, self.unreached, 4)

    own = {"task_age": np.array([5, 5, 5]), "goal_slot": np.array([0, 0, -1]),
           "fcell": np.array([0, 1, 2])}  # fmt: skip
    obs = SimpleNamespace(n=3, ids=np.arange(3), own=own, known={"bank": Bank()})
    age = priorities(obs, 0)
    np.testing.assert_allclose(priorities(obs, 0, 30) - age, [-120.0, 0.0, 0.0])


def test_relay_lists_and_blocked_neighbours_read_the_packets_each_robot_heard(robot_threads):
    """The compiled relay lists and blocked flags against numpy's gather and weighted
    bincount, on one thread and (where there are two) on the pool."""
    from policies.pibt import near_blocked, relay_lists
    from swarm.comm import Inbox
    from swarm.grid.policy import BEACON_BLOCKED, BEACON_DIM

    rng = np.random.default_rng(robot_threads)
    n, sent = 300, 250
    counts = rng.integers(0, 9, n)
    ptr = np.concatenate([[0], np.cumsum(counts)])
    table = rng.normal(size=(sent, BEACON_DIM))
    table[:, BEACON_BLOCKED] = rng.random(sent) < 0.05
    heard = Inbox(ptr, rng.integers(0, n, ptr[-1]).astype(np.int32), table,
                  rng.integers(0, sent, ptr[-1]))  # fmt: skip
    blocked, asked = rng.random(n) < 0.1, rng.random(n) < 0.4
    flagged = np.bincount(heard.owner, weights=table[heard.rows, BEACON_BLOCKED], minlength=n)
    np.testing.assert_array_equal(near_blocked(blocked, heard), blocked | (flagged > 0))
    got_ptr, entries = relay_lists(asked, heard)
    np.testing.assert_array_equal(got_ptr, np.concatenate([[0], np.cumsum(counts * asked)]))
    np.testing.assert_array_equal(entries, table[heard.rows[asked[heard.owner]]])


def test_relayer_cells_are_read_from_the_beacon_each_relayer_sent(robot_threads):
    """Each relay a robot that needs them received is matched, by sender, with the
    first-round beacon it heard from that sender (its cell; -1 where that beacon was lost);
    robots that need no relays get none. Against a dictionary lookup, on one thread and
    (where there are two) on the pool."""
    from policies.pibt import relayer_cells
    from swarm.comm import Inbox
    from swarm.grid.policy import BEACON_CELL, BEACON_DIM
    from swarm.radio import ListInbox

    rng = np.random.default_rng(robot_threads)
    n = 200
    heard_senders = [rng.choice(1000, rng.integers(0, 9), replace=False) for _ in range(n)]
    relay_senders = [np.concatenate([rng.choice(s, min(len(s), 3), replace=False),
                                     rng.integers(1000, 1010, rng.integers(0, 2))])
                     for s in heard_senders]  # fmt: skip
    cell_of = rng.permutation(5000)[:1000]  # sender label -> the cell its beacon gives
    flat = np.concatenate(heard_senders).astype(np.int64)
    table = np.zeros((len(flat), BEACON_DIM))
    table[:, BEACON_CELL] = cell_of[flat]
    hptr = np.concatenate([[0], np.cumsum([len(s) for s in heard_senders])])
    rows = rng.permutation(len(flat))  # packet e's message sits at row rows[e]
    shuffled = np.empty_like(table)
    shuffled[rows] = table
    heard = Inbox(hptr, flat, shuffled, rows)
    rsend = np.concatenate(relay_senders).astype(np.int64)
    rptr = np.concatenate([[0], np.cumsum([len(s) for s in relay_senders])])
    relays = ListInbox(rptr, rsend, np.zeros((0, BEACON_DIM)), np.zeros(1, np.int64),
                       np.zeros(len(rsend), np.int64))  # fmt: skip
    need = rng.random(n) < 0.6
    ptr, cells = relayer_cells(need, heard, relays)
    for i in range(n):
        want = [int(cell_of[s]) if s < 1000 else -1 for s in relay_senders[i]] if need[i] else []
        assert cells[ptr[i] : ptr[i + 1]].tolist() == want
    assert (cells == -1).any() and (cells >= 0).any()


def test_a_cell_is_vouched_for_within_a_relayers_range_and_the_relay_radius():
    """``_vouched``: a free cell beyond the robot's own range counts as known where it lies
    within the radio range of a relayer (whose relay listed every robot it heard) and
    within the relay radius of the robot; a relayer whose beacon was not heard (-1) vouches
    for nothing."""
    from policies.pibt import _vouched

    vouched = _vouched.py_func
    frow, fcol = np.array([0, 0, 0, 0]), np.array([0, 4, 8, 12])  # four cells along a row
    relayer = np.array([-1, 1])  # cell 1 (column 4); the other relayer unheard
    # from cell 0 with a 4-cell radio and a 10-cell relay radius
    assert vouched(2, frow, fcol, 64.0, 16.0, 100.0, relayer, 0, 2)  # column 8: 4 from it
    assert not vouched(2, frow, fcol, 64.0, 16.0, 100.0, relayer, 0, 1)  # only the unheard one
    assert not vouched(3, frow, fcol, 144.0, 16.0, 200.0, relayer, 0, 2)  # 8 from the relayer
    assert not vouched(2, frow, fcol, 64.0, 25.0, 49.0, relayer, 0, 2)  # beyond the relay radius
    assert vouched(3, frow, fcol, 144.0, 81.0, 200.0, relayer, 0, 2)  # a 9-cell relayer's range


@pytest.mark.parametrize("motion", ["grid", "rotate"])
def test_relay_vouches_is_local_and_changes_plans(motion):
    """With unknown cells occupied, robots near blocked ones also count the cells their
    relayers vouch for as known: the plans change within a few steps, every robot still
    decides alone exactly as in the batch (packet loss and a capped inbox: relays from
    robots whose beacon was lost), and nobody collides."""
    from swarm.testing import assert_local

    rough = dict(layout=LAYOUT, sense_radius=SENSE, comm_radius=COMM, packet_drop=0.2,
                 max_inbox=6, motion=motion)  # fmt: skip
    params = {"unknown_cells": "occupied", "distance_priority": 30, "relay_vouches": True}
    assert assert_local("pibt", "warehouse", n_agents=60, steps=10, policy_params=params,
                        **rough) == 600  # fmt: skip
    runs = {}
    for vouch in (False, True):
        model = WarehouseModel(n_agents=60, rng=0, policy_params={**params, "relay_vouches": vouch},
                               **rough)  # fmt: skip
        cells = []
        for _ in range(10):
            model.step()
            cells.append(model.world.cell.copy())
        assert model.metrics["executed_collisions"] == 0
        runs[vouch] = np.array(cells)
    assert not np.array_equal(runs[False], runs[True])
