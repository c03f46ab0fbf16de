"""Trainer plug-ins: the entry points of the ``swarm.trainers`` group.

A plug-in is an object with a ``name`` and ``run(job) -> summary``. The built-ins are
registered in ``pyproject.toml`` exactly as a third party registers its own::

    [project.entry-points."swarm.trainers"]
    local = "swarm.learn.trainers:LocalTrainer"
    mine = "my_package.training:MyTrainer"      # in the other package's pyproject

``local`` trains in this process. ``ddp`` and ``diloco`` use ``torch.distributed``: run from
``swarm train ... --nproc 2`` they start the ranks themselves through torchrun's launcher
(``python -m torch.distributed.run --standalone``); started by an external ``torchrun`` they
join its process group instead, so the same command scales to a cluster::

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d \\
        --rdzv-endpoint HOST:29500 --rdzv-id RUN -m swarm.train navigation --trainer ddp ...

(every node runs that line; ``out`` must be on a shared filesystem for ``--resume``). Gloo
is the backend on CPU. Each rank steps ``num_envs / ranks`` environments with its own seeds.

Nothing outlives ``swarm train``, even killed by ``kill -9``: the launcher it starts gets
SIGKILL from the kernel when it dies (:func:`swarm.lifeline.parent_death_preexec`), and every
rank when the launcher dies (:func:`swarm.lifeline.die_with_parent`, first thing in
:mod:`swarm.learn.worker`); otherwise orphaned ranks train on and write checkpoints into a
run folder that a restarted run is using.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn, Protocol

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from swarm.config import ConfigError
from swarm.io import write_json
from swarm.learn.loop import TrainJob, TrainStrategy, train
from swarm.learn.nets import ActorCritic
from swarm.learn.teams import param_groups
from swarm.lifeline import parent_death_preexec

GROUP = "swarm.trainers"


class Trainer(Protocol):
    """What the ``swarm.trainers`` entry points load."""

    name: str

    def run(self, job: TrainJob) -> dict[str, Any]: ...


def available_trainers() -> dict[str, Any]:
    """name -> entry point, for every installed plug-in."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load_trainer(name: str) -> Trainer:
    """The plug-in registered as ``name`` (a class is instantiated without arguments)."""
    found = available_trainers()
    if not found:
        raise ConfigError(
            f"--trainer: no plug-ins in the {GROUP!r} entry-point group; install the project "
            "(pip install -e .) so its entry points exist"
        )
    if name not in found:
        raise ConfigError(f"--trainer: unknown {name!r}; installed: {', '.join(sorted(found))}")
    obj = found[name].load()
    return obj() if isinstance(obj, type) else obj


# --------------------------------------------------------------------------- local
class LocalTrainer:
    """One process, one optimiser."""

    name = "local"

    def run(self, job: TrainJob) -> dict[str, Any]:
        if job.nproc != 1:
            raise ConfigError(
                f"nproc: {job.nproc} ranks need a distributed trainer; allowed with "
                "--trainer local: 1 (use --trainer ddp or diloco for several ranks)"
            )
        return train(job, TrainStrategy())


# --------------------------------------------------------------------------- torch.distributed
def under_torchrun() -> bool:
    """Whether this process is a rank started by torchrun (it sets these variables)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def leave_rank(code: int) -> NoReturn:
    """End a rank process with ``code`` once its work is written, skipping interpreter
    finalisation: there torch's gloo threads can still hold work objects whose teardown takes
    the GIL of an interpreter being dismantled and abort the process (SIGABRT, exit -6) after
    a run that succeeded (pytorch/pytorch#179291), which torchrun then reports as the run's
    failure. Nothing a rank leaves for finalisation matters: files are written atomically
    before this, the process group is destroyed, and logging and the streams are flushed
    here. The other atexit handlers of what a rank loads (torch, numba, llvmlite,
    multiprocessing) reset flags, print debug statistics or end multiprocessing children,
    which a rank does not start."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def launch_ranks(job: TrainJob) -> dict[str, Any]:
    """Start ``job.nproc`` ranks on this machine through torchrun's launcher and wait."""
    out = Path(job.out)
    job_file = out / "job.json"
    write_json(job_file, job.model_dump(mode="json"))
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc-per-node={job.nproc}", "-m", "swarm.learn.worker", str(job_file),
    ]  # fmt: skip
    # each rank's share of the cores, for torch and for numba's parallel kernels alike
    threads = str(job.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "NUMBA_NUM_THREADS": threads,
           "SWARM_TRAIN_PID": str(os.getpid())}  # fmt: skip
    # the launcher is torchrun's code, not ours: the kernel ends it when this process ends
    code = subprocess.run(cmd, env=env, check=False, preexec_fn=parent_death_preexec()).returncode
    if code != 0:
        raise ConfigError(f"--trainer {job.trainer}: a rank failed (exit code {code}); see above")
    import json

    return json.loads((out / "summary.json").read_text())


class _DistributedTrainer:
    """Launch ranks when started by hand, or be a rank when started by torchrun."""

    name = "distributed"

    def strategy(self, job: TrainJob) -> TrainStrategy:
        raise NotImplementedError

    def run(self, job: TrainJob) -> dict[str, Any]:
        if not under_torchrun():
            return launch_ranks(job)
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("SWARM_NCCL") else "gloo"
        dist.init_process_group(backend)
        try:
            result = train(job, self.strategy(job))
            # every rank is done communicating before any tears its connections down:
            # a rank that closes first can abort its peer's gloo thread (SIGABRT at exit)
            dist.barrier()
            return result
        finally:
            dist.destroy_process_group()


class DDPStrategy(TrainStrategy):
    """DistributedDataParallel: gradients all-reduced (averaged) every optimiser step."""

    def __init__(self) -> None:
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self._bytes = 0

    def setup(self, model: ActorCritic, job: TrainJob):
        ddp = DistributedDataParallel(model, forward_sync_buffers=False)  # buffers are constants
        ddp.register_comm_hook(self, _counting_allreduce)
        return ddp, torch.optim.Adam(param_groups(model), lr=job.ppo.learning_rate, eps=1e-5)

    def reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    def comm_bytes(self) -> int:
        return self._bytes


def _counting_allreduce(state, bucket):  # unannotated: DDP checks the annotation objects
    """DDP's default gradient averaging (``state``: the DDPStrategy; ``bucket``: a
    ``dist.GradBucket``), counting the bytes it all-reduces."""
    buffer = bucket.buffer()
    state._bytes += buffer.numel() * buffer.element_size()
    buffer.div_(dist.get_world_size())
    return dist.all_reduce(buffer, async_op=True).get_future().then(lambda fut: fut.value()[0])


class DDPTrainer(_DistributedTrainer):
    name = "ddp"

    def strategy(self, job: TrainJob) -> TrainStrategy:
        return DDPStrategy()


class DiLoCoStrategy(TrainStrategy):
    """H local (inner) optimiser steps per rank, then one outer step on the average of the
    ranks' parameter changes (the pseudo-gradient), by Nesterov-momentum SGD.

    Algorithm 1 of Douillard et al. 2023: theta_global is kept on every rank; after H inner
    steps, delta = theta_global - theta_rank is all-reduced (averaged) and the outer
    optimiser steps theta_global with it as the gradient; every rank restarts from the new
    theta_global. The outer step also runs after the last optimiser step of a PPO update, so
    every rollout is collected with the same parameters on every rank. Communication: one
    all-reduce of the parameters per outer step, against one per optimiser step for DDP.
    """

    def __init__(self, job: TrainJob) -> None:
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.cfg = job.diloco
        self._bytes = 0
        self._inner_since_sync = 0

    def setup(self, model: ActorCritic, job: TrainJob):
        self.model = model
        for p in model.parameters():  # identical start on every rank, as DDP guarantees
            dist.broadcast(p.data, src=0)
        self.global_params = [p.detach().clone() for p in model.parameters()]
        self.outer = torch.optim.SGD(
            self.global_params, lr=self.cfg.outer_lr, momentum=self.cfg.outer_momentum,
            nesterov=self.cfg.nesterov and self.cfg.outer_momentum > 0,
        )  # fmt: skip
        if self.cfg.inner_optimizer == "sgd":
            inner = torch.optim.SGD(param_groups(model), lr=job.ppo.learning_rate)
        else:
            inner = torch.optim.AdamW(
                param_groups(model), lr=job.ppo.learning_rate, eps=1e-5,
                weight_decay=self.cfg.weight_decay,
            )  # fmt: skip
        self.inner = inner
        return model, inner

    def reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    def after_step(self, last_of_update: bool) -> None:
        self._inner_since_sync += 1
        h = self.cfg.inner_steps
        if last_of_update or (h is not None and self._inner_since_sync >= h):
            self.outer_step()

    @torch.no_grad()
    def outer_step(self) -> None:
        flat = torch.cat([(g - p).reshape(-1) for g, p in zip(
            self.global_params, self.model.parameters(), strict=True)])  # fmt: skip
        dist.all_reduce(flat)  # one message for the whole model
        self._bytes += flat.numel() * flat.element_size()
        flat /= self.world_size
        offset = 0
        for g in self.global_params:
            g.grad = flat[offset : offset + g.numel()].view_as(g).clone()
            offset += g.numel()
        self.outer.step()
        for g, p in zip(self.global_params, self.model.parameters(), strict=True):
            p.copy_(g)
        self._inner_since_sync = 0

    def comm_bytes(self) -> int:
        return self._bytes

    def state_dict(self) -> dict[str, Any]:
        inner_states: list[Any] = [None] * self.world_size
        dist.all_gather_object(inner_states, self.inner.state_dict())
        return {
            "global_params": [g.clone() for g in self.global_params],
            "outer": self.outer.state_dict(),
            "inner_per_rank": inner_states,
            "comm_bytes": self._bytes,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        with torch.no_grad():
            for g, saved in zip(self.global_params, state["global_params"], strict=True):
                g.copy_(saved)
        self.outer.load_state_dict(state["outer"])
        self.inner.load_state_dict(state["inner_per_rank"][self.rank])
        self._bytes = int(state["comm_bytes"])


class DiLoCoTrainer(_DistributedTrainer):
    name = "diloco"

    def strategy(self, job: TrainJob) -> TrainStrategy:
        return DiLoCoStrategy(job)
