"""The radio of a step's message rounds: declared, carried along the links, counted."""

import numpy as np
import pytest

from swarm.grid.layout import LayoutParams, generate_layout
from swarm.grid.world import GridWorld
from swarm.radio import MessageError, Round


def world_of(n=40, seed=0, **kw):
    g = generate_layout(LayoutParams(block_rows=2, block_cols=2, shelf_width=3))
    starts = np.random.default_rng(seed).choice(g.free_cells, n, replace=False)
    return GridWorld(g, starts, sense_radius=2.0, comm_radius=3.5, **kw)


ROUNDS = (Round("a", 2), Round("relay", 1, per_link=True), Round("b", 1))


def test_a_round_reaches_exactly_the_comm_neighbours_and_is_counted():
    world = world_of()
    radio = world.radio(ROUNDS, phase=1, who="t")
    msgs = np.stack([np.arange(40.0), -np.arange(40.0)], axis=1)
    inbox = radio.send("a", msgs)
    links = world.links
    assert np.array_equal(inbox.ptr, links.ptr) and np.array_equal(inbox.sender, links.idx)
    assert np.array_equal(inbox.msg[:, 0], inbox.sender)  # each packet is its sender's message
    degree = np.diff(links.ptr)
    assert np.array_equal(radio.traffic.packets, degree)  # a broadcast costs a packet per link
    assert np.array_equal(radio.traffic.bytes, degree * 2 * 8)
    assert radio.traffic.rounds == 1


def test_what_was_sent_cannot_change_after_sending():
    world = world_of()
    radio = world.radio(ROUNDS, phase=1, who="t")
    msgs = np.zeros((40, 2))
    inbox = radio.send("a", msgs)
    msgs[:] = 7.0
    assert not inbox.msg.any()
    with pytest.raises(ValueError):
        inbox.table[0, 0] = 1.0


def test_silent_robots_send_nothing_and_cost_nothing():
    world = world_of()
    radio = world.radio(ROUNDS, phase=1, who="t")
    speaking = np.arange(40) % 2 == 0
    inbox = radio.send("a", np.arange(80.0).reshape(40, 2), speaking=speaking)
    assert (inbox.sender % 2 == 0).all()
    assert np.array_equal(inbox.msg[:, 0], 2 * inbox.sender)
    assert not radio.traffic.packets[~speaking].any()


def test_a_list_round_carries_every_entry_and_is_bounded_by_the_links():
    world = world_of()
    radio = world.radio(ROUNDS, phase=1, who="t")
    radio.send("a", np.zeros((40, 2)))
    degree = np.diff(world.links.ptr)
    count = np.minimum(degree, 2)
    ptr = np.concatenate([[0], np.cumsum(count)])
    entries = np.repeat(np.arange(40.0), count)[:, None]
    inbox = radio.send("relay", entries, entry_ptr=ptr).entries()
    assert np.array_equal(inbox.msg[:, 0], inbox.sender)  # entries labelled by their sender
    per_receiver = np.diff(inbox.ptr)
    want = np.array([count[world.links.neighbors_of(i)].sum() for i in range(40)])
    assert np.array_equal(per_receiver, want)
    assert radio.traffic.bytes.sum() == 8 * (2 * degree.sum() + (degree * count).sum())
    radio2 = world.radio(ROUNDS, phase=1, who="t")
    too_many = degree + 1
    ptr = np.concatenate([[0], np.cumsum(too_many)])
    with pytest.raises(MessageError, match="at most one per comm link"):
        radio2.send("relay", np.zeros((ptr[-1], 1)), entry_ptr=ptr)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.send("zzz", np.zeros((40, 1))), "did not declare"),
        (lambda r: r.send("a", np.zeros((40, 3))), "declares 2 floats"),
        (lambda r: (r.send("b", np.zeros((40, 1))), r.send("a", np.zeros((40, 2)))), "order"),
        (lambda r: (r.send("a", np.zeros((40, 2))), r.send("a", np.zeros((40, 2)))), "twice"),
        (lambda r: r.send("a", np.zeros((39, 2))), "one message per robot"),
    ],
)
def test_messages_outside_the_declaration_are_refused(call, match):
    radio = world_of().radio(ROUNDS, phase=1, who="mine")
    with pytest.raises(MessageError, match=f"mine: .*{match}"):
        call(radio)


def test_packet_loss_is_keyed_per_round_and_link_at_the_configured_rate():
    world = world_of(n=60, packet_drop=0.3, comm_seed=5)
    one = world.radio(ROUNDS, phase=1, who="t").send("a", np.zeros((60, 2)))
    again = world.radio(ROUNDS, phase=1, who="t").send("a", np.zeros((60, 2)))
    assert np.array_equal(one.sender, again.sender) and np.array_equal(one.ptr, again.ptr)
    assert 0.6 < len(one.sender) / len(world.links.idx) < 0.8
    radio = world.radio(ROUNDS, phase=1, who="t")
    radio.send("a", np.zeros((60, 2)))
    other = radio.send("b", np.zeros((60, 1)))  # another round: other losses
    assert not np.array_equal(other.sender, one.sender)
    # a lost packet was still sent
    assert radio.traffic.packets.sum() == 2 * len(world.links.idx)


def test_the_inbox_cap_keeps_the_nearest_senders():
    world = world_of(n=60, max_inbox=2)
    inbox = world.radio(ROUNDS, phase=1, who="t").send("a", np.zeros((60, 2)))
    rows, cols = np.divmod(world.cell, world.grid.width)
    for i in range(60):
        got = inbox.sender[inbox.ptr[i] : inbox.ptr[i + 1]]
        links = world.links.neighbors_of(i)
        assert len(got) == min(2, len(links))
        d = np.hypot(rows[links] - rows[i], cols[links] - cols[i])
        kept = np.hypot(rows[got] - rows[i], cols[got] - cols[i])
        assert kept.max(initial=0) <= np.sort(d)[min(2, len(d)) - 1] if len(d) else True


def test_repeated_broadcasts_are_heard_if_any_copy_arrives_and_every_copy_counts():
    once = world_of(n=60, packet_drop=0.3, comm_seed=5)
    twice = world_of(n=60, packet_drop=0.3, comm_seed=5, radio_repeats=1)
    a = once.radio(ROUNDS, phase=1, who="t")
    b = twice.radio(ROUNDS, phase=1, who="t")
    heard_once = a.send("a", np.zeros((60, 2)))
    heard_twice = b.send("a", np.zeros((60, 2)))
    links = len(once.links.idx)
    assert 0.05 < 1 - len(heard_twice.sender) / links < 0.15  # about 0.3 ** 2 lost
    # the first copy is the single broadcast's: repetition only adds packets heard
    pairs = set(zip(heard_once.owner.tolist(), heard_once.sender.tolist(), strict=True))
    assert pairs <= set(zip(heard_twice.owner.tolist(), heard_twice.sender.tolist(), strict=True))
    assert np.array_equal(b.traffic.packets, 2 * a.traffic.packets)
    assert np.array_equal(b.traffic.bytes, 2 * a.traffic.bytes)


def test_an_inbox_cap_above_every_robots_links_caps_nothing_and_allocates_nothing():
    world = world_of(n=60, max_inbox=999_999_999_999)
    inbox = world.radio(ROUNDS, phase=1, who="t").send("a", np.zeros((60, 2)))
    assert np.array_equal(inbox.sender, world.links.idx)
