"""Message rounds within one step: declared by the controller, carried and counted here.

A controller that talks several times before it acts (decentralised PIBT: beacons, relays,
pushes, arbitration) does not deliver its own messages. It declares its rounds
(:class:`Round`: a name and the floats of one message), and each step the engine hands it a
:class:`Radio` bound to that step's comm links. ``radio.send(name, messages)`` is the only
way a message reaches another robot, and it is carried like the drones' channel
(:mod:`swarm.comm`): one packet per comm link of the sender, each lost with probability
``packet_drop`` from a keyed stream (step, phase, round, sender, receiver), at most
``max_inbox`` packets kept per receiver (its nearest senders). With ``repeats`` r every
broadcast goes out 1 + r times (blind repetition, as a link layer does on a lossy channel): a
receiver hears it if any copy arrives (loss ``packet_drop ** (1 + r)``), and every copy is
counted. What the receivers get is a
copy of what was sent (:class:`swarm.comm.Inbox`, senders labelled by identity), so a
controller cannot read anything a robot did not put in a message.

Every round is counted per robot: packets sent (a broadcast costs one packet per link; a
lost packet was still sent), bytes (packets x entries x floats x 8) and rounds carried.
Sizes are enforced: a message of the wrong width, a round not declared or sent twice, or a
list longer than the sender's links is refused with a :class:`MessageError`.

A round may be a *list* (``per_link=True``): each robot sends up to one entry per comm link
it has (a relay of what it heard); a fixed round sends at most one message per robot, and a
robot may stay silent (``speaking``).

The locality audit (:mod:`swarm.testing`) records every round of a batch step
(``record=True``) and replays each robot's inboxes to it alone (:class:`ReplayRadio`), so
the messages it sends in every round are compared too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from swarm.comm import Inbox, route
from swarm.neighbors import NeighborTable
from swarm.rng import keyed_uniform
from swarm.threads import robot_chunks

BYTES_PER_FLOAT = 8


class MessageError(ValueError):
    """A controller sent a message outside what it declared."""


@dataclass(frozen=True)
class Round:
    """One message round within a step, as a controller declares it."""

    name: str
    width: int  # floats per message (per entry of a list)
    per_link: bool = False  # a list of up to one entry per comm link of the sender


@dataclass
class Traffic:
    """What robots sent in one step, summed over its rounds (per robot)."""

    packets: np.ndarray  # (R,) float64
    bytes: np.ndarray  # (R,) float64
    rounds: int = 0  # rounds in which some robot spoke

    @classmethod
    def zero(cls, n: int) -> Traffic:
        return cls(np.zeros(n), np.zeros(n))

    def add(self, other: Traffic) -> None:
        self.packets += other.packets
        self.bytes += other.bytes
        self.rounds += other.rounds


@dataclass
class Sent:
    """One round as it was carried: the lists each robot sent and the inbox of each."""

    name: str
    entry_ptr: np.ndarray  # (R + 1,) robot i sent entries[entry_ptr[i]:entry_ptr[i + 1]]
    entries: np.ndarray  # (M, width)
    inbox: Inbox | ListInbox

    def sent_by(self, row: int) -> np.ndarray:
        return self.entries[self.entry_ptr[row] : self.entry_ptr[row + 1]]


def _frozen(array: Any, dtype: type, owned: bool) -> np.ndarray:
    """``array`` as a read-only array of ``dtype``: a copy, or itself when the caller owns
    it (handed over fresh, referred to nowhere else) and it is of that dtype already."""
    if owned and isinstance(array, np.ndarray) and array.dtype == dtype and array.base is None:
        out = array
    else:
        out = np.array(array, dtype=dtype)
    out.flags.writeable = False
    return out


class Radio:
    """Carries one step phase's declared rounds along the comm links (module docstring)."""

    def __init__(
        self,
        links: NeighborTable,
        ids: np.ndarray,
        rounds: tuple[Round, ...],
        *,
        step: int,
        phase: int = 0,
        seed: int = 0,
        packet_drop: float = 0.0,
        max_inbox: int | None = None,
        repeats: int = 0,
        who: str = "controller",
        record: bool = False,
    ):
        self.links = links
        self.ids = ids
        self.rounds = {r.name: (k, r) for k, r in enumerate(rounds)}
        self.step = step
        self.phase = phase
        self.seed = seed
        self.packet_drop = float(packet_drop)
        self.max_inbox = max_inbox
        self.repeats = int(repeats)
        # an inbox cap at or above every robot's number of links caps nothing (and a huge
        # one must not size the routing scratch)
        most = int(links.counts.max()) if len(links.counts) else 0
        self._cap = -1 if max_inbox is None or max_inbox >= most else int(max_inbox)
        self.who = who
        self._traffic = Traffic.zero(len(ids))
        n = len(ids)
        # packets one broadcast costs, per robot (every copy counts)
        self._degree = links.counts.astype(np.float64) * (1 + int(repeats))
        self._everyone = (np.ones(n, np.int64), np.arange(n + 1, dtype=np.int64))
        # rounds in which every robot spoke, counted as a total (summed into ``traffic``
        # when read, not per round: the common case stays cheap)
        self._full_rounds = 0
        self._full_floats = 0
        # identities equal to rows (one world, no audit): a packet's sender row is its label
        self._rows_are_ids = len(ids) == 0 or (ids[0] == 0 and bool((np.diff(ids) == 1).all()))
        self.log: list[Sent] | None = [] if record else None
        self._last = -1

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def traffic(self) -> Traffic:
        """What the robots sent so far in this radio's rounds (per robot)."""
        out = Traffic(self._traffic.packets.copy(), self._traffic.bytes.copy(),
                      self._traffic.rounds)  # fmt: skip
        if self._full_rounds:
            out.packets += self._full_rounds * self._degree
            out.bytes += self._full_floats * BYTES_PER_FLOAT * self._degree
            out.rounds += self._full_rounds if self._degree.any() else 0
        return out

    def port(self) -> RadioPort:
        """What a controller holds: ``send`` and nothing else (not the counters or links)."""
        return RadioPort(self.send)

    def _declared(self, name: str) -> tuple[int, Round]:
        if name not in self.rounds:
            raise MessageError(
                f"{self.who}: sent on round {name!r}, which it did not declare "
                f"(declared: {', '.join(self.rounds) or 'none'})"
            )
        k, spec = self.rounds[name]
        if k <= self._last:
            raise MessageError(
                f"{self.who}: round {name!r} sent out of its declared order or twice in a step"
            )
        self._last = k
        return k, spec

    def send(
        self,
        name: str,
        messages: np.ndarray,
        speaking: np.ndarray | None = None,
        entry_ptr: np.ndarray | None = None,
        owned: bool = False,
    ) -> Inbox | ListInbox:
        """Carry round ``name``; returns what each robot received (CSR by receiver).

        Fixed round: ``messages`` (R, width), robot i's message is row i; ``speaking`` (R,)
        bool (default all) says who sends. List round: ``messages`` (M, width) and
        ``entry_ptr`` (R + 1,): robot i sends rows ``entry_ptr[i]:entry_ptr[i + 1]``; a
        receiver gets every entry of each packet it hears, in order, each labelled with
        its sender (a :class:`ListInbox`).

        What was sent stays so: the radio carries a read-only copy. ``owned``: the caller
        hands over fresh arrays it never touches again (nothing else refers to them), so
        they are carried as they are, made read-only, without the copy (a relay round's
        table is tens of MB).
        """
        k, spec = self._declared(name)
        messages = _frozen(messages, np.float64, owned)
        entry_ptr = None if entry_ptr is None else _frozen(entry_ptr, np.int64, owned)
        if messages.ndim != 2 or messages.shape[1] != spec.width:
            raise MessageError(
                f"{self.who}: round {name!r} declares {spec.width} floats per message, got "
                f"shape {messages.shape}"
            )
        degree = self.links.counts
        if spec.per_link:
            if entry_ptr is None or len(entry_ptr) != self.n + 1 or speaking is not None:
                raise MessageError(
                    f"{self.who}: list round {name!r} takes entry_ptr (R + 1,) (an empty list: "
                    "silent), not speaking"
                )
            count = np.diff(entry_ptr)
            if entry_ptr[0] != 0 or (count < 0).any():
                raise MessageError(
                    f"{self.who}: round {name!r}: entry_ptr must start at 0 and never decrease"
                )
            over = np.flatnonzero(count > degree)
            if len(over):
                i = int(over[0])
                raise MessageError(
                    f"{self.who}: round {name!r}: robot {int(self.ids[i])} sent {count[i]} "
                    f"entries, declared at most one per comm link ({degree[i]})"
                )
            if entry_ptr[-1] != len(messages):
                raise MessageError(f"{self.who}: round {name!r}: entry_ptr does not end at M")
        else:
            if entry_ptr is not None:
                raise MessageError(f"{self.who}: round {name!r} is not a list round")
            if len(messages) != self.n:
                raise MessageError(
                    f"{self.who}: round {name!r} needs one message per robot ({self.n}), got "
                    f"{len(messages)}"
                )
            if speaking is None:  # everyone: one entry each, robot i's is row i
                count, entry_ptr = self._everyone
            else:
                speaking = np.asarray(speaking, dtype=bool)
                if speaking.shape != (self.n,):
                    raise MessageError(f"{self.who}: round {name!r}: speaking must be ({self.n},)")
                count = speaking.astype(np.int64)
                entry_ptr = np.zeros(self.n + 1, np.int64)
                np.cumsum(count, out=entry_ptr[1:])
                messages = messages[speaking]  # a copy: read-only as the rest
                messages.flags.writeable = False
        everyone = count is self._everyone[0]
        inbox = self._carry(k, count, entry_ptr, messages, spec.per_link, everyone)
        if everyone:
            self._full_rounds += 1
            self._full_floats += spec.width
        else:
            packets = np.where(count > 0, self._degree, 0.0)
            self._traffic.packets += packets
            self._traffic.bytes += packets * count * (spec.width * BYTES_PER_FLOAT)
            self._traffic.rounds += int(len(messages) > 0 and packets.any())
        if self.log is not None:
            self.log.append(Sent(name, entry_ptr, messages, inbox))
        return inbox

    def _carry(
        self,
        k: int,
        count: np.ndarray,
        entry_ptr: np.ndarray,
        entries: np.ndarray,
        lists: bool,
        everyone: bool,
    ) -> Inbox | ListInbox:
        links = self.links
        if not everyone and not count.any():  # a silent round: nothing is carried
            empty = np.zeros(self.n + 1, np.int64)
            none = np.zeros(0, np.int64)
            if lists:
                return ListInbox(empty, none, entries, entry_ptr, none)
            return Inbox(empty, none, entries, none)
        everyone = everyone or bool(count.all())
        if everyone and self.packet_drop <= 0 and self._cap < 0:
            ptr, sender = links.ptr, links.idx  # every packet arrives: the links themselves
        else:
            heard = count[links.idx] > 0 if not everyone else np.ones(links.n_edges, bool)
            if self.packet_drop > 0:
                src, dst = self.ids[links.idx], self.ids[links.owner]
                arrived = keyed_uniform(self.seed, self.step, self.phase, k, src, dst)
                arrived = arrived >= self.packet_drop
                for copy in range(1, 1 + self.repeats):  # heard if any copy arrives
                    u = keyed_uniform(self.seed, self.step, self.phase, k, src, dst, copy)
                    arrived |= u >= self.packet_drop
                heard &= arrived
            alive = np.ones(self.n, bool)
            ptr, sender = route(links, alive, heard, self._cap, robot_chunks(self.n))
        labels = sender if self._rows_are_ids else self.ids[sender].astype(np.int64)
        if everyone and not lists:  # one message per robot: the table's row is the sender
            return Inbox(ptr, labels, entries, sender)
        if not lists:  # silent robots have no row: the table holds the speakers only
            return Inbox(ptr, labels, entries, entry_ptr[sender])
        return ListInbox(ptr, labels, entries, entry_ptr, sender)


class RadioPort:
    """A controller's handle on the step's radio: only :meth:`Radio.send`."""

    __slots__ = ("send",)

    def __init__(self, send: Any):
        self.send = send


@dataclass(frozen=True, eq=False)
class ListInbox:
    """What a list round delivered, CSR by receiver over *packets*: receiver i's packets are
    e in ``ptr[i]:ptr[i + 1]``; packet e came from ``sender[e]`` and carries the entries
    ``table[entry_ptr[ref[e]]:entry_ptr[ref[e] + 1]]`` (its sender's whole list). Kept at
    the packet level: a relay heard by many robots is not copied once per receiver
    (compiled readers loop over packets, then entries); :meth:`entries` expands it."""

    ptr: np.ndarray  # (R + 1,) int64
    sender: np.ndarray  # (K,) int64 label of each packet's sender
    table: np.ndarray  # (M, width) every list sent, back to back
    entry_ptr: np.ndarray  # (S + 1,) list s is table[entry_ptr[s]:entry_ptr[s + 1]]
    ref: np.ndarray  # (K,) list of each packet

    @cached_property
    def counts(self) -> np.ndarray:
        return np.diff(self.ptr)

    def entries(self) -> Inbox:
        """The same delivery one entry per row: receiver i reads ``msg[ptr[i]:ptr[i+1]]``,
        each entry labelled with its sender."""
        per_packet = self.entry_ptr[self.ref + 1] - self.entry_ptr[self.ref]
        cum = np.zeros(len(self.ref) + 1, np.int64)
        np.cumsum(per_packet, out=cum[1:])
        rows = np.repeat(self.entry_ptr[self.ref] - cum[:-1], per_packet) + np.arange(cum[-1])
        return Inbox(cum[self.ptr], np.repeat(self.sender, per_packet), self.table, rows)


@dataclass
class ReplayRadio:
    """One robot's radio in the audit: returns the inboxes it got in the batch, round by
    round, and keeps what it sends (compared with its rows of the batch's rounds). A robot
    alone may skip a round the batch had (one it had nothing to send on, say); what it then
    did not hear shows up in its decision if it mattered."""

    inboxes: list[tuple[str, Inbox | ListInbox]]
    sent: list[tuple[str, np.ndarray]] = field(default_factory=list)
    _last: int = -1

    def port(self) -> RadioPort:
        return RadioPort(self.send)

    def send(
        self,
        name: str,
        messages: np.ndarray,
        speaking: np.ndarray | None = None,
        entry_ptr: np.ndarray | None = None,
        owned: bool = False,
    ) -> Inbox | ListInbox:
        """:meth:`Radio.send` alone: the inbox this robot got on that round in the batch.
        What it sent is kept read-only, a copy unless ``owned`` (as :meth:`Radio.send`)."""
        if entry_ptr is None and speaking is not None:
            messages = np.asarray(messages, dtype=np.float64)[np.asarray(speaking, bool)]
            owned = True  # the selection is a fresh array
        self.sent.append((name, _frozen(messages, np.float64, owned)))
        names = [n for n, _ in self.inboxes]
        if name not in names:
            raise MessageError(f"sent on round {name!r}, which the batch did not have")
        k = names.index(name)
        if k <= self._last:
            raise MessageError(f"sent on round {name!r} out of the batch's order")
        self._last = k
        return self.inboxes[k][1]


def inbox_of(inbox: Inbox | ListInbox, row: int) -> Inbox | ListInbox:
    """Receiver ``row``'s part of an inbox as an inbox of one (copies of what it got only)."""
    if isinstance(inbox, ListInbox):
        packets = slice(int(inbox.ptr[row]), int(inbox.ptr[row + 1]))
        ref = inbox.ref[packets]
        spans = [np.arange(inbox.entry_ptr[r], inbox.entry_ptr[r + 1]) for r in ref]
        sizes = np.array([len(x) for x in spans], np.int64)
        rows = np.concatenate(spans) if spans else np.zeros(0, np.int64)
        entry_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return ListInbox(np.array([0, len(ref)], np.int64), inbox.sender[packets].copy(),
                         inbox.table[rows].copy(), entry_ptr, np.arange(len(ref)))  # fmt: skip
    senders, messages = inbox.of(row)
    return Inbox(np.array([0, len(senders)], np.int64), senders.copy(), messages.copy())
