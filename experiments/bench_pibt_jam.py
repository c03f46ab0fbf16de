"""Benchmark: decentralised PIBT in the jammed regime of a 10,000-robot League instance.

Why: once jams form (after ~1,000 steps of MR23-I-10 under rotation and crisscross
guidance), robots near blocked ones add every relayed robot within ``relay_radius`` to their
local problem, and a step's local PIBT and relay kernels slow the run to 2-3 steps/s. This
script measures those kernels on inputs captured in that state and checks that a changed
kernel gives the same answers bit for bit as the committed one (``git show HEAD``).

    # run to the jammed state, pickle the model, save the kernels' inputs of 2 steps
    python experiments/bench_pibt_jam.py capture --steps 1500 --out /tmp/jam
    # old (HEAD) vs new kernels on the captured inputs, interleaved, outputs compared
    python experiments/bench_pibt_jam.py kernels --data /tmp/jam --repeats 7
    # whole steps from the pickled state, old and new policy interleaved, cells compared
    python experiments/bench_pibt_jam.py steps --data /tmp/jam --steps 30
    # early regime (steps 0..N from the start), old and new interleaved
    python experiments/bench_pibt_jam.py early --steps 100
    # fingerprint of the moves: hash of the cells after 300 steps, 2,000 robots
    python experiments/bench_pibt_jam.py fingerprint --steps 300

The machine is shared: timings are interleaved old/new and reported as medians and ranges.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
INSTANCE = ROOT / ".." / "shared" / "data" / "lorr-2023-main-round" / "MR23-I-10.json"
OLD_DIR = Path("/tmp/bench_pibt_jam_old")  # HEAD's policies/pibt.py, compiled once (cache)


def make_model(n_agents: int | None = None, motion: str = "rotate", guidance: bool = True):
    """MR23-I-10 under the issue's settings (rotate, crisscross guidance w=3, rng 0)."""
    from envs.warehouse import WarehouseModel

    extra: dict[str, Any] = {"guidance": "crisscross", "guidance_weight": 3} if guidance else {}
    if n_agents is not None:
        extra["n_agents"] = n_agents
    model = WarehouseModel(instance=str(INSTANCE), policy="pibt", motion=motion, rng=0, **extra)
    model.collect_metrics = False
    return model


def old_module(rev: str = "HEAD") -> ModuleType:
    """policies/pibt.py as committed at ``rev``, imported as a module of its own (so the
    old and the new kernels run side by side in one process)."""
    OLD_DIR.mkdir(exist_ok=True)
    src = subprocess.run(
        ["git", "show", f"{rev}:policies/pibt.py"], cwd=ROOT, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    path = OLD_DIR / "pibt_old.py"
    if not path.exists() or path.read_text() != src:
        path.write_text(src)
    spec = importlib.util.spec_from_file_location("pibt_old", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["pibt_old"] = mod
    spec.loader.exec_module(mod)
    return mod


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def spread(xs: list[float]) -> str:
    return f"median {statistics.median(xs):8.2f}  range {min(xs):8.2f} - {max(xs):8.2f}"


# ---------------------------------------------------------------------------- capture
def capture(steps: int, out: Path, record: int) -> None:
    """Run ``steps`` steps, pickle the model, then save the inputs of the local PIBT and
    relay kernels over ``record`` more steps."""
    import policies.pibt as pibt

    out.mkdir(parents=True, exist_ok=True)
    model = make_model()
    t0 = time.perf_counter()
    for s in range(steps):
        model.step()
        if (s + 1) % 100 == 0:
            dt = time.perf_counter() - t0
            print(f"step {s + 1}: {dt:.0f} s", flush=True)
    model.datacollector = None  # lambdas do not pickle; the runs here collect no metrics
    with open(out / "model.pkl", "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    calls: dict[str, list] = {"pibt": [], "relayed": []}
    real = {k: getattr(pibt, k) for k in ("_local_pibt", "_local_pibt_parallel", "_relayed")}

    def spy(name: str, key: str):
        def f(*args):
            calls[key].append([np.array(a) for a in args])
            return real[name](*args)

        return f

    pibt._local_pibt = spy("_local_pibt", "pibt")
    pibt._local_pibt_parallel = spy("_local_pibt_parallel", "pibt")
    pibt._relayed = spy("_relayed", "relayed")
    for _ in range(record):
        model.step()
    for k, v in real.items():
        setattr(pibt, k, v)
    for key, lst in calls.items():
        arrays = {f"c{j}_a{a}": x for j, args in enumerate(lst) for a, x in enumerate(args)}
        np.savez(out / f"{key}.npz", n_calls=len(lst), n_args=len(lst[0]), **arrays)
    print(f"saved {out}: {len(calls['pibt'])} local PIBT calls, {len(calls['relayed'])} relays")


def load_calls(path: Path) -> list[list[Any]]:
    z = np.load(path)
    n, k = int(z["n_calls"]), int(z["n_args"])
    out = []
    for j in range(n):
        args = [z[f"c{j}_a{a}"] for a in range(k)]
        out.append([a.item() if a.ndim == 0 else a for a in args])
    return out


# ---------------------------------------------------------------------------- kernels
def _timed(f, args) -> tuple[float, Any]:
    t0 = time.perf_counter()
    res = f(*args)
    return (time.perf_counter() - t0) * 1e3, res


def _relay(mod: ModuleType, args: list[Any], table: np.ndarray) -> tuple:
    """The relay step as ``mod``'s relayed_view runs it (HEAD's and this tree's take the
    same arguments; this tree's on the thread pool when numba has more than one): (ptr,
    packet, message rows, table of distinct messages)."""
    return mod._relayed(*args[:8], np.ascontiguousarray(table, np.float64), *args[9:])


def _canonical_relay(ptr: np.ndarray, packet: np.ndarray, msgs: np.ndarray) -> tuple:
    """The relayed inbox with each receiver's entries stably sorted by descending priority
    (the order this tree's relay step hands them to the local problems; the local index
    order of equal priorities, the only order PIBT reads, is kept)."""
    owner = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    order = np.lexsort((-msgs[:, 1], owner))
    return ptr, packet[order], msgs[order]


def kernels(data: Path, repeats: int, threads: list[int], chunks_per_thread: int) -> None:
    """HEAD's vs this tree's relay step and local PIBT kernel on the captured inputs of
    each step (its relay call, then its planning rounds reading the relayed inbox),
    interleaved, with the relayed messages and the plans compared bit for bit."""
    import policies.pibt as new

    old = old_module()
    pibt_calls = load_calls(data / "pibt.npz")
    relay_calls = load_calls(data / "relayed.npz")
    per_step = len(pibt_calls) // len(relay_calls)
    before = numba.get_num_threads()
    for count in threads:
        numba.set_num_threads(count)
        times = {k: {"pibt": [], "relayed": []} for k in ("old", "new")}
        results: dict[str, list] = {}
        for rep in range(repeats + 1):  # the first repeat compiles and keeps the answers
            for name in ("old", "new") if rep % 2 == 0 else ("new", "old"):
                mod = old if name == "old" else new
                kern = mod._local_pibt if count == 1 else mod._local_pibt_parallel
                n_chunks = count * (1 if name == "old" else chunks_per_thread)
                t_p, t_r, outs = 0.0, 0.0, []
                for s, rargs in enumerate(relay_calls):
                    table = pibt_calls[s * per_step][7]
                    dt, (ptr, packet, rows, rtable) = _timed(_relay, [mod, rargs, table])
                    t_r += dt
                    outs.append(_canonical_relay(ptr, packet, rtable[rows]))
                    for args in pibt_calls[s * per_step : (s + 1) * per_step]:
                        call = [*args[:6], ptr, rtable, rows, *args[9:-1], n_chunks]
                        dt, res = _timed(kern, call)
                        t_p += dt
                        outs.append(res)
                if rep == 0:
                    results[name] = outs
                else:
                    times[name]["pibt"].append(t_p / len(relay_calls))
                    times[name]["relayed"].append(t_r / len(relay_calls))
        same = all(
            digest(*x) == digest(*y) for x, y in zip(results["old"], results["new"], strict=True)
        )
        print(f"threads {count}: relayed messages and plans identical: {same}")
        for part in ("pibt", "relayed"):
            for name in ("old", "new"):
                print(f"  {part:8s} {name} ms/step  {spread(times[name][part])}")
            ratio = statistics.median(times["old"][part]) / statistics.median(times["new"][part])
            print(f"  {part:8s} speedup {ratio:.2f}x")
    numba.set_num_threads(before)


# ---------------------------------------------------------------------------- whole steps
def state_digest(model) -> str:
    """Hash of everything a step changes that the moves decide: cells, headings, the
    policy's memory, messages and bytes sent, tasks finished, conflicts and collisions."""
    w, pol = model.world, model.policy
    c = model.last_counts
    counts = [c.moved, c.invalid_moves, c.attempted_conflicts, c.vertex_collisions,
              c.swap_collisions, *model.totals.values()]  # fmt: skip
    heading = w.heading if model.config.motion == "rotate" else np.zeros(0)  # grid: unused
    return digest(
        w.fcell, np.asarray(heading), pol.inherited, pol.intended,
        np.asarray(model.tasks.finished, np.float64), np.asarray(counts, np.float64),
    )  # fmt: skip


def as_old(model, old: ModuleType):
    """The same model, planned by HEAD's decentralised PIBT (its class, its kernels)."""
    model.policy.__class__ = old.PIBT
    return model


def interleaved(models: dict[str, Any], steps: int) -> dict[str, list[float]]:
    """Step each model ``steps`` times, alternating which goes first; ms per step each, and
    the states compared after every step (an AssertionError names the first that differ)."""
    times: dict[str, list[float]] = {k: [] for k in models}
    names = list(models)
    for s in range(steps):
        for name in names if s % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            models[name].step()
            times[name].append((time.perf_counter() - t0) * 1e3)
        digests = {k: state_digest(m) for k, m in models.items()}
        assert len(set(digests.values())) == 1, f"step {s}: states differ {digests}"
    return times


def report(times: dict[str, list[float]], skip: int) -> None:
    for name, ts in times.items():
        ts = ts[skip:]
        print(f"  {name}: ms/step {spread(ts)}  steps/s {1e3 / statistics.median(ts):.2f}")
    med = {k: statistics.median(v[skip:]) for k, v in times.items()}
    print(f"  speedup (median old / new): {med['old'] / med['new']:.2f}x")


def steps_from_pickle(data: Path, steps: int) -> None:
    """Whole steps from the pickled jammed state: HEAD's policy and this tree's, stepped
    alternately, the states compared after every step."""
    old = old_module()
    models = {}
    for name in ("old", "new"):
        with open(data / "model.pkl", "rb") as f:
            models[name] = pickle.load(f)
    as_old(models["old"], old)
    times = interleaved(models, steps + 1)
    print(f"jammed state, {steps} steps after the first (compiles), threads "
          f"{numba.get_num_threads()}: states identical after every step")  # fmt: skip
    report(times, 1)


def early(steps: int) -> None:
    """Steps 0..``steps`` of a fresh MR23-I-10, HEAD's policy and this tree's alternately."""
    old = old_module()
    models = {"old": as_old(make_model(), old), "new": make_model()}
    times = interleaved(models, steps)
    print(
        f"early regime, steps 0-{steps}, threads {numba.get_num_threads()}: states "
        "identical after every step; timing from step 5"
    )
    report(times, 5)


def fingerprint(steps: int, n_agents: int, motions: list[str], old_too: bool) -> None:
    """Hash of the state after ``steps`` steps of MR23-I-10's first ``n_agents`` robots
    (crisscross guidance, weight 3), per motion model; with HEAD's policy too."""
    old = old_module() if old_too else None
    for motion in motions:
        for name in ("old", "new") if old_too else ("new",):
            model = make_model(n_agents, motion)
            if name == "old":
                as_old(model, old)
            t0 = time.perf_counter()
            for _ in range(steps):
                model.step()
            s = model.summary(free_flow=False)
            print(f"{motion:6s} {name}: {state_digest(model)}  cells {digest(model.world.fcell)}"
                  f"  tasks {s['tasks_finished']}  conflicts {s['attempted_conflicts']}"
                  f"  collisions {s['collisions']}  {time.perf_counter() - t0:.1f} s",
                  flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--steps", type=int, default=1200)
    c.add_argument("--record", type=int, default=2)
    c.add_argument("--out", type=Path, default=Path("/tmp/jam"))
    k = sub.add_parser("kernels")
    k.add_argument("--data", type=Path, default=Path("/tmp/jam"))
    k.add_argument("--repeats", type=int, default=7)
    k.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    k.add_argument("--chunks-per-thread", type=int, default=1)
    st = sub.add_parser("steps")
    st.add_argument("--data", type=Path, default=Path("/tmp/jam"))
    st.add_argument("--steps", type=int, default=30)
    e = sub.add_parser("early")
    e.add_argument("--steps", type=int, default=100)
    fp = sub.add_parser("fingerprint")
    fp.add_argument("--steps", type=int, default=300)
    fp.add_argument("--n-agents", type=int, default=2000)
    fp.add_argument("--motions", nargs="+", default=["rotate", "grid"])
    fp.add_argument("--no-old", action="store_true", help="only this tree's policy")
    for p in (st, e, fp):
        p.add_argument("--threads", type=int, default=None, help="numba threads (default all)")
    a = ap.parse_args(argv)
    if a.cmd in ("steps", "early", "fingerprint") and a.threads is not None:
        numba.set_num_threads(a.threads)
    if a.cmd == "capture":
        capture(a.steps, a.out, a.record)
    elif a.cmd == "kernels":
        kernels(a.data, a.repeats, a.threads, a.chunks_per_thread)
    elif a.cmd == "steps":
        steps_from_pickle(a.data, a.steps)
    elif a.cmd == "early":
        early(a.steps)
    elif a.cmd == "fingerprint":
        fingerprint(a.steps, a.n_agents, a.motions, not a.no_old)


if __name__ == "__main__":
    main()
