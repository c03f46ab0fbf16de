"""Links, the networkx view and the message channel."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from envs.flocking import FlockingModel
from swarm.engine import Swarm, SwarmConfig
from swarm.scenario import Scenario


def engine_for(seed=0, message_dim=1, **cfg):
    config = SwarmConfig(**cfg)
    rng = np.random.default_rng(seed)
    engine = Swarm(config, rng)
    engine.open_channel(message_dim)
    Scenario(config).spawn(engine, np.arange(engine.rows), rng)
    engine.sense()
    return engine


def brute_links(engine, radius):
    pos = engine.pos
    d = pos[None] - pos[:, None]
    if engine.config.torus:
        w = engine.config.world_size
        d -= w * np.round(d / w)
    close = (d**2).sum(-1) <= radius**2
    close &= engine.alive[:, None] & engine.alive[None, :]
    np.fill_diagonal(close, False)
    return {(i, j) for i, j in zip(*np.nonzero(close), strict=True) if i < j}


def graph_edges(graph):
    return {tuple(sorted(e)) for e in graph.edges}


@given(seed=st.integers(0, 1000), radius=st.floats(0.5, 8.0), torus=st.booleans())
def test_range_links_equal_all_pairs(seed, radius, torus):
    engine = engine_for(
        seed, n_agents=60, world_size=15.0, comm_radius=radius, sense_radius=3.0,
        boundary="torus" if torus else "box",
    )  # fmt: skip
    assert graph_edges(engine.graph_view.graph()) == brute_links(engine, radius)


def test_knn_links_are_the_symmetrised_k_nearest():
    engine = engine_for(4, n_agents=40, world_size=20.0, comm_model="knn", comm_k=3)
    pos = engine.pos
    d = pos[None] - pos[:, None]
    d -= 20.0 * np.round(d / 20.0)
    dist = np.sqrt((d**2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    knn = np.argsort(dist, axis=1)[:, :3]
    expected = {tuple(sorted((i, int(j)))) for i in range(40) for j in knn[i]}
    assert graph_edges(engine.graph_view.graph()) == expected


def test_fixed_topology_is_any_networkx_graph_and_loses_crashed_nodes():
    ring = nx.cycle_graph(10)
    model = FlockingModel(n_agents=10, comm_model="fixed", comm_topology=ring, rng=1)
    assert graph_edges(model.comm_graph) == graph_edges(ring)
    model.crash([3])
    g = model.comm_graph
    assert 3 not in g and graph_edges(g) == graph_edges(ring) - {(2, 3), (3, 4)}


def test_named_topologies_are_seeded():
    a = FlockingModel(n_agents=20, comm_model="fixed", comm_topology="small_world", rng=5)
    b = FlockingModel(n_agents=20, comm_model="fixed", comm_topology="small_world", rng=5)
    assert graph_edges(a.comm_graph) == graph_edges(b.comm_graph)


@pytest.mark.parametrize("sync", ["lazy", "incremental"])
def test_comm_graph_always_equals_current_links(sync):
    model = FlockingModel(
        n_agents=80, world_size=25.0, comm_radius=4.0, comm_graph_sync=sync, rng=2,
        crash_at={5: [1, 2, 3]}, crash_rate=0.01,
    )  # fmt: skip
    for _ in range(12):
        model.step()
        g = model.comm_graph
        alive = set(np.flatnonzero(model.engine.alive).tolist())
        assert set(g.nodes) == alive
        assert graph_edges(g) == brute_links(model.engine, 4.0)
    assert not model.engine.alive[[1, 2, 3]].any()


def test_messages_travel_only_along_links_and_arrive_next_step():
    engine = engine_for(7, n_agents=50, world_size=20.0, comm_radius=3.0)
    ids = np.arange(engine.rows, dtype=float)[:, None]
    links = {(int(i), int(j)) for i, j in zip(engine.links.owner, engine.links.idx, strict=True)}
    assert engine.obs.inbox.sender.size == 0  # nothing sent yet
    engine.apply(np.zeros((engine.rows, 2)), messages=ids)
    inbox = engine.obs.inbox
    received = {(int(r), int(s)) for r, s in zip(inbox.owner, inbox.sender, strict=True)}
    assert received == links
    np.testing.assert_array_equal(inbox.msg[:, 0], inbox.sender)


def test_delay_holds_messages_in_flight():
    engine = engine_for(1, n_agents=30, world_size=10.0, comm_delay=2)
    ids = np.arange(engine.rows, dtype=float)[:, None]
    engine.apply(np.zeros((engine.rows, 2)), messages=ids)
    zeros = np.full((engine.rows, 1), -1.0)
    engine.apply(np.zeros((engine.rows, 2)), messages=zeros)
    assert engine.obs.inbox.sender.size == 0  # sent at t=0, arrives at t=3
    engine.apply(np.zeros((engine.rows, 2)), messages=zeros)
    inbox = engine.obs.inbox
    assert inbox.sender.size > 0
    np.testing.assert_array_equal(inbox.msg[:, 0], inbox.sender)


def test_packet_drop_rate_is_as_configured():
    engine = engine_for(3, n_agents=300, world_size=30.0, packet_drop=0.3)
    sent = engine.links.n_edges
    engine.apply(np.zeros((engine.rows, 2)), messages=np.ones((engine.rows, 1)))
    got = engine.obs.inbox.sender.size
    assert abs(got / sent - 0.7) < 0.03


def test_inbox_cap_keeps_the_nearest_senders():
    engine = engine_for(2, n_agents=200, world_size=15.0, comm_radius=5.0, max_inbox=2)
    links = engine.links
    engine.apply(np.zeros((engine.rows, 2)), messages=np.ones((engine.rows, 1)))
    inbox = engine.obs.inbox
    assert inbox.counts.max() <= 2
    for row in range(0, 200, 17):
        s = links.row_slice(row)
        nearest = set(links.idx[s][np.argsort(links.dist[s], kind="stable")[:2]].tolist())
        assert set(inbox.of(row)[0].tolist()) == nearest


def test_crashed_agents_receive_nothing():
    engine = engine_for(5, n_agents=40, world_size=8.0)
    engine.crash([0, 1])
    engine.apply(np.zeros((engine.rows, 2)), messages=np.ones((engine.rows, 1)))
    inbox = engine.obs.inbox
    assert inbox.counts[[0, 1]].sum() == 0
    assert not np.isin(inbox.sender, [0, 1]).any()


def test_every_step_records_the_packets_and_bytes_each_drone_sent():
    from envs.consensus import ConsensusModel
    from envs.flocking import FlockingModel

    model = ConsensusModel(n_agents=30, policy="average_consensus", packet_drop=0.3, rng=4)
    degrees = sum(d for _, d in model.comm_graph.degree())  # the links the step sends along
    model.step()
    metrics = model.metrics
    assert metrics["messages_sent"] == degrees / 30  # a dropped packet was still sent
    assert metrics["bytes_sent"] == degrees / 30 * 8.0  # one float64 per message
    assert metrics["message_rounds"] == 1 and metrics["message_hops"] == 1
    silent = FlockingModel(n_agents=30, rng=4)  # boids send nothing
    silent.step()
    assert silent.metrics["messages_sent"] == 0 and silent.metrics["message_rounds"] == 0


def test_no_packets_are_counted_for_an_empty_broadcast_and_crashes_do_not_inflate_the_rate():
    from envs.consensus import ConsensusModel
    from envs.flocking import FlockingModel

    quiet = FlockingModel(n_agents=20, message_dim=4, rng=1)  # a channel, but boids say nothing
    quiet.step()
    assert quiet.metrics["messages_sent"] == 0.0
    model = ConsensusModel(
        n_agents=30, policy="average_consensus", rng=4, crash_at={1: list(range(15))}
    )
    degrees = sum(d for _, d in model.comm_graph.degree())
    model.step()  # the crash strikes after sending: the rate is per drone alive when sending
    assert model.metrics["messages_sent"] == degrees / 30


def test_fixed_links_follow_crashes_and_positions_though_their_lists_are_kept():
    """FixedLinks keeps the edge lists while nobody crashes (the costly part); a crash, a
    revival and every move must still show in the table."""
    from swarm.comm import FixedLinks

    links = FixedLinks(nx.cycle_graph(6), 6)
    rng = np.random.default_rng(0)
    pos, vel = rng.uniform(0, 10, (6, 2)), np.zeros((6, 2))
    alive = np.ones(6, bool)
    env = np.zeros(6, np.int64)
    first = links.links(pos, vel, alive, env, 1, 10.0, False, None)
    assert len(first.idx) == 12
    moved = pos + 1.5
    again = links.links(moved, vel, alive, env, 1, 10.0, False, None)
    np.testing.assert_allclose(again.rel_pos, moved[again.idx] - moved[again.owner])
    alive[2] = False
    crashed = links.links(moved, vel, alive, env, 1, 10.0, False, None)
    assert len(crashed.idx) == 8 and 2 not in crashed.idx and 2 not in crashed.owner
    alive[2] = True
    assert len(links.links(moved, vel, alive, env, 1, 10.0, False, None).idx) == 12


@pytest.mark.parametrize("max_inbox", [-1, 0, 3])
@pytest.mark.parametrize("chunks", [2, 3, 7])
def test_routing_on_chunks_of_receivers_gives_the_serial_packets(max_inbox, chunks):
    """Every receiver's packets, whatever the chunking (the pool's path for large swarms):
    dropped packets, crashed receivers and an inbox cap included."""
    import numba

    from swarm.comm import route

    engine = engine_for(7, n_agents=400, world_size=20.0, comm_radius=3.0)
    links = engine.links
    rng = np.random.default_rng(chunks)
    alive = rng.random(engine.rows) > 0.1
    for delivered in (np.zeros(0, bool), rng.random(links.n_edges) > 0.3):
        want = route(links, alive, delivered, max_inbox, 1)
        before = numba.get_num_threads()
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        try:
            got = route(links, alive, delivered, max_inbox, chunks)
        finally:
            numba.set_num_threads(before)
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(a, b)
        assert want[0][-1] == len(want[1])
        assert (len(want[1]) > 0) == (max_inbox != 0)
