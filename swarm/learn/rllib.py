"""The ``rllib`` trainer plug-in: RLlib's PPO on a scenario's PettingZoo env, for Ray clusters.

Every agent maps to one shared RLlib policy (parameter sharing, as in the built-in trainers)
with the built-in network's shape: separate tanh MLPs for actor and critic (``hidden`` wide,
two layers) and a state-independent log standard deviation. The PPO settings of ``--ppo``
carry over (learning rate, discount, GAE lambda, clip range, epochs, minibatches, entropy and
value weights, gradient clip; no KL penalty, as in CleanRL's PPO; no value clipping, since
RLlib's clips the loss rather than the value change). An update (one RLlib
``train()`` iteration) samples ``num_envs x rollout_steps`` env steps.

Sampling: ``--nproc 1`` steps the envs in this process; ``--nproc K`` starts K Ray env-runner
actors that step ``num_envs / K`` envs each. The driver joins the Ray cluster named by
``RAY_ADDRESS`` (``ray start --head`` on one node, ``ray start --address HEAD:6379`` on the
others, the project installed on every node) or starts a local one.

Run folder: the same ``metrics.parquet`` columns and ``summary.json`` as the other trainers;
every ``checkpoint_every`` updates RLlib's own checkpoint in ``checkpoints/rllib/update_N/``
(what ``--resume`` restores: weights and optimiser; the env runners are seeded afresh from
the resume point, so a resumed run goes on with new episodes, not a bit-exact replay) and
the shared policy exported as this project's checkpoint ``checkpoints/update_N.pt``, so
``swarm eval`` and ``swarm view --policy`` play an RLlib-trained policy exactly like one
trained by ``local`` (the export is tested equal to RLlib's module).

RLlib's checkpoints are pickles (``algorithm_state.pkl`` and others): restoring one runs
whatever code it names. So each checkpoint folder holds a manifest (``swarm_manifest.json``)
of every other file in it, with size and SHA-256, written after RLlib's files and published
with them by one rename; ``--resume`` restores only a folder that matches its manifest
exactly (no file added, missing or changed), from a private copy of the verified bytes.
A checkpoint from elsewhere, or from before manifests, is refused with one line.

Dependencies: the ``rllib`` extra installs ray and RLlib's own requirements, not
``ray[rllib]``, whose pin ``gymnasium==1.2.2`` would replace the gymnasium these envs are
tested with; RLlib's PettingZoo wrapper and PPO run on it unchanged (tested).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import math
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from swarm.config import ConfigError
from swarm.io import write_json, write_table
from swarm.learn.checkpoint import CheckpointError, checkpoint_path, save_checkpoint
from swarm.learn.loop import TrainJob, job_seed, run_summary, updates_planned
from swarm.learn.nets import ActorCritic, NetSpec

POLICY_ID = "shared"
ENV_NAME = "swarm_pettingzoo"
_RLLIB_DIR = "rllib"
_STATE_FILE = "swarm_state.json"
MANIFEST = "swarm_manifest.json"
_MANIFEST_FORMAT = "swarm-rllib-manifest"
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- the env
def make_parallel_env(config: dict[str, Any]) -> Any:
    """RLlib's env creator: the scenario's PettingZoo parallel env in RLlib's wrapper.

    ``config``: ``scenario``, ``env_config`` and ``reward_scale`` (rewards are multiplied by
    it, as the built-in PPO does; reported returns are divided back). A module-level
    function, so Ray pickles it by reference and env-runner actors import it.
    """
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    module = importlib.import_module(f"envs.{config['scenario']}_v0")
    env = module.parallel_env(**config.get("env_config", {}))
    scale = float(config.get("reward_scale", 1.0))
    return ParallelPettingZooEnv(_ScaledRewards(env, scale) if scale != 1.0 else env)


class _ScaledRewards:
    """A parallel env whose rewards are multiplied by a constant; everything else forwarded."""

    def __init__(self, env: Any, scale: float):
        self._env, self._scale = env, scale

    def step(self, actions: dict[str, Any]) -> tuple[Any, ...]:
        obs, rewards, terminations, truncations, infos = self._env.step(actions)
        scaled = {agent: r * self._scale for agent, r in rewards.items()}
        return obs, scaled, terminations, truncations, infos

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


# --------------------------------------------------------------------------- the plug-in
class RLlibTrainer:
    """RLlib PPO with one shared policy; Ray runs the sampling, locally or on a cluster."""

    name = "rllib"

    def run(self, job: TrainJob) -> dict[str, Any]:
        _check_supported(job)
        _require_rllib()
        return _train(job)


def _has_rllib() -> bool:
    try:
        return importlib.util.find_spec("ray.rllib") is not None and all(
            importlib.util.find_spec(name) is not None for name in ("tree", "lz4", "ormsgpack")
        )
    except (ImportError, ValueError):
        return False


def _require_rllib() -> None:
    if not _has_rllib():
        raise ConfigError(
            "--trainer rllib: RLlib is not installed; install the optional extra: "
            "pip install torch==2.13.0 && pip install -e '.[rllib]'"
        )


def _check_supported(job: TrainJob) -> None:
    if ":" in job.scenario:
        raise ConfigError(
            f"scenario: {job.scenario!r} is a custom batched env; allowed with --trainer "
            "rllib: a registered scenario (RLlib steps its PettingZoo env)"
        )
    if job.algo != "ippo":
        raise ConfigError(
            f"algo: {job.algo!r}; allowed with --trainer rllib: ippo (RLlib's PPO has no "
            "centralised critic from state(); use --trainer local, ddp or diloco for mappo)"
        )
    if job.actor != "mlp":
        raise ConfigError(
            f"actor: {job.actor!r}; allowed with --trainer rllib: mlp (the GNN actor's "
            "message passing runs in this project's batched env only)"
        )
    if job.nproc > 1 and job.num_envs % job.nproc:
        raise ConfigError(
            f"num_envs: {job.num_envs} does not split evenly over {job.nproc} env runners"
        )
    if not job.ppo.normalize_advantages:
        raise ConfigError(
            "ppo.normalize_advantages: false; allowed with --trainer rllib: true (RLlib's PPO "
            "always standardises advantages)"
        )


def _ppo_config(job: TrainJob, n_agents: int, start: int = 0) -> Any:
    """RLlib's PPOConfig for ``job``: the same network shape and PPO settings."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_parallel_env)
    ppo = job.ppo
    runners = job.nproc if job.nproc > 1 else 0
    batch = job.num_envs * ppo.rollout_steps  # env steps per update, as the other trainers
    minibatch = max(1, batch * n_agents // ppo.num_minibatches)  # RLlib counts agent steps
    env_config = {
        "scenario": job.scenario,
        "env_config": job.env_config,
        "reward_scale": ppo.reward_scale,
    }
    return (
        PPOConfig()
        .environment(ENV_NAME, env_config=env_config, normalize_actions=False, clip_actions=True)
        .multi_agent(policies={POLICY_ID}, policy_mapping_fn=_shared_policy)
        .env_runners(
            num_env_runners=runners,
            num_envs_per_env_runner=job.num_envs // max(runners, 1),
            rollout_fragment_length="auto",
        )
        .training(
            train_batch_size_per_learner=batch,
            minibatch_size=minibatch,
            num_epochs=ppo.update_epochs,
            lr=ppo.learning_rate,
            gamma=ppo.gamma,
            lambda_=ppo.gae_lambda,
            clip_param=ppo.clip_coef,
            # RLlib clips the value *loss* (samples past it give no gradient), not the value
            # change as CleanRL and the built-in PPO do: with returns of tens the critic
            # would barely learn, so it is off
            vf_clip_param=math.inf,
            vf_loss_coeff=ppo.vf_coef,
            entropy_coeff=ppo.ent_coef,
            grad_clip=ppo.max_grad_norm,
            grad_clip_by="global_norm",
            use_kl_loss=False,
        )
        .rl_module(
            model_config=DefaultModelConfig(
                fcnet_hiddens=[job.hidden, job.hidden],
                fcnet_activation="tanh",
                vf_share_layers=False,
                free_log_std=True,
            )
        )
        .debugging(seed=rllib_seed(job.seed, start))
    )


def rllib_seed(seed: int, start: int) -> int:
    """RLlib's seed for a run (re)started at update ``start``: RLlib seeds its env runners
    when they are built and a checkpoint does not carry their random state, so a resumed
    run seeded as the first would replay the first run's episodes; a seed per resume point
    gives fresh ones (a resumed run is a valid continuation, not a bit-exact replay)."""
    return job_seed(seed, start, 0, 2) % (2**31)


def _shared_policy(agent_id: Any, *args: Any, **kwargs: Any) -> str:
    return POLICY_ID


def _net_spec(job: TrainJob, env: Any) -> NetSpec:
    agent = env.possible_agents[0]
    obs_space, act_space = env.observation_space(agent), env.action_space(agent)
    if len(obs_space.shape) != 1 or not hasattr(act_space, "low"):
        raise ConfigError(
            f"scenario: {job.scenario!r} has a {type(act_space).__name__} action space; "
            "allowed with --trainer rllib: continuous (Box) actions and flat observations"
        )
    return NetSpec(
        obs_dim=int(obs_space.shape[0]),
        act_dim=int(act_space.shape[0]),
        actor="mlp",
        critic="local",
        hidden=job.hidden,
        action_low=[float(x) for x in act_space.low],
        action_high=[float(x) for x in act_space.high],
    )


def export_module(state: dict[str, Any], spec: NetSpec) -> dict[str, torch.Tensor]:
    """RLlib's default PPO module (separate actor and critic encoders, free log std) as the
    state dict of this project's :class:`~swarm.learn.nets.ActorCritic`."""
    names = {
        "actor.net.0": "encoder.actor_encoder.net.mlp.0",
        "actor.net.2": "encoder.actor_encoder.net.mlp.2",
        "actor.net.4": "pi.net.mlp.0",
        "critic.0": "encoder.critic_encoder.net.mlp.0",
        "critic.2": "encoder.critic_encoder.net.mlp.2",
        "critic.4": "vf.net.mlp.0",
    }
    out: dict[str, torch.Tensor] = {}
    for ours, theirs in names.items():
        for part in ("weight", "bias"):
            out[f"{ours}.{part}"] = torch.as_tensor(np.asarray(state[f"{theirs}.{part}"])).float()
    out["log_std"] = torch.as_tensor(np.asarray(state["pi.log_std"])).float()
    reference = ActorCritic(spec).state_dict()
    out["action_low"], out["action_high"] = reference["action_low"], reference["action_high"]
    for key, value in reference.items():  # a changed RLlib layout fails here, not later
        if key not in out or out[key].shape != value.shape:
            raise CheckpointError(
                f"rllib export: RLlib's module does not match the {spec.hidden}-wide MLP at "
                f"{key!r} (RLlib's default PPO module changed?)"
            )
    return out


# --------------------------------------------------------------------------- the loop
def _train(job: TrainJob) -> dict[str, Any]:
    import ray

    torch.set_num_threads(job.threads)
    n_updates = updates_planned(job)
    probe = make_parallel_env({"scenario": job.scenario, "env_config": job.env_config}).par_env
    spec = _net_spec(job, probe)
    n_agents = len(probe.possible_agents)
    episode = getattr(probe, "max_cycles", None)
    teams = probe.unwrapped.core.scenario.teams() if hasattr(probe.unwrapped, "core") else None
    probe.close()
    if teams:
        raise ConfigError(
            f"trainer: {job.scenario} has teams, trained one policy per team; the rllib "
            "plug-in trains one shared policy only; allowed trainers with teams: local, ddp, "
            "diloco"
        )
    if episode is not None and job.ppo.rollout_steps < episode:
        raise ConfigError(
            f"ppo.rollout_steps: {job.ppo.rollout_steps} is shorter than an episode "
            f"(max_cycles {episode}); allowed: >= {episode} (or lower max_cycles)"
        )
    out = Path(job.out)
    ckpt_dir = out / "checkpoints"
    rllib_dir = ckpt_dir / _RLLIB_DIR
    resume_from, start = _resume_point(job, rllib_dir) if job.resume else (None, 0)
    started_ray = not ray.is_initialized()
    if started_ray:  # joins RAY_ADDRESS's cluster when set, else starts a local one
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        algo = _ppo_config(job, n_agents, start).build_algo()
    except BaseException:
        if started_ray:
            ray.shutdown()
        raise
    try:
        rows = _restore(algo, resume_from, start, out) if resume_from is not None else []
        write_json(out / "job.json", job.model_dump(mode="json"))
        steps_per_update = job.num_envs * job.ppo.rollout_steps
        bar = tqdm(total=n_updates, initial=start, desc=f"train {job.scenario} (rllib)",
                   unit="update", disable=not job.progress, leave=False)  # fmt: skip
        t0 = time.perf_counter()
        update = start
        for update in range(start + 1, n_updates + 1):
            tick = time.perf_counter()
            result = algo.train()
            wall = time.perf_counter() - tick
            rows.append(_metrics_row(result, update, steps_per_update, n_agents, job, wall))
            bar.update(1)
            bar.set_postfix(ret=f"{rows[-1]['episode_return']:.3g}")
            if update % job.checkpoint_every == 0 or update == n_updates:
                _save(algo, job, spec, update, update * steps_per_update, rllib_dir)
                write_table(out / "metrics.parquet", pd.DataFrame(rows))
        bar.close()
        wall = time.perf_counter() - t0
    finally:
        algo.stop()
        if started_ray:
            ray.shutdown()
    # comm bytes: not measured (Ray's object store moves the weights and samples)
    summary = run_summary(job, max(job.nproc, 1), start, update, steps_per_update, wall, rows,
                          None, ckpt_dir)  # fmt: skip
    write_table(out / "metrics.parquet", pd.DataFrame(rows))
    write_json(out / "summary.json", summary)
    return summary


def _metrics_row(
    result: dict[str, Any], update: int, steps: int, n_agents: int, job: TrainJob, wall: float
) -> dict[str, Any]:
    """One row with the built-in trainers' columns, from an RLlib result dict."""
    runners = result.get("env_runners", {})
    learner = result.get("learners", {}).get(POLICY_ID, {})
    # RLlib sums over agents; the built-in trainers' team return is the mean over agents
    summed = runners.get("episode_return_mean", math.nan)
    return {
        "update": update,
        "env_steps": update * steps,
        "agent_steps": update * steps * n_agents,
        "episode_return": float(summed) / n_agents / job.ppo.reward_scale,
        "episodes": int(runners.get("num_episodes", 0)),
        "policy_loss": float(learner.get("policy_loss", math.nan)),
        "value_loss": float(learner.get("vf_loss", math.nan)),
        "entropy": float(learner.get("entropy", math.nan)),
        "comm_bytes": math.nan,  # not measured: Ray's object store moves weights and samples
        "update_s": wall,
        "env_steps_per_s": steps / wall if wall > 0 else math.nan,
    }


def _save(algo: Any, job: TrainJob, spec: NetSpec, update: int, env_steps: int,
          rllib_dir: Path) -> None:  # fmt: skip
    """RLlib's checkpoint (atomic: written aside, then renamed) and the exported policy."""
    final = rllib_dir / f"update_{update:06d}"
    staging = rllib_dir / f".update_{update:06d}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    algo.save_to_path(str(staging.resolve()))
    write_json(staging / _STATE_FILE, {"update": update, "env_steps": env_steps,
                                       "job": job.model_dump(mode="json")})  # fmt: skip
    write_manifest(staging)  # last: the checkpoint is complete
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    state = _learner_module_state(algo)
    save_checkpoint(checkpoint_path(rllib_dir.parent, update), {
        "update": update,
        "env_steps": env_steps,
        "job": job.model_dump(mode="json"),
        "net_spec": spec.model_dump(mode="json"),
        "world_size": 1,
        "model": export_module(state, spec),
        "trained_by": "rllib",
    })  # fmt: skip


def _learner_module_state(algo: Any) -> dict[str, Any]:
    """The shared module's full weights from the learner (the env runners' copy is
    inference-only: it has no critic)."""
    from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_RL_MODULE

    path = f"{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}/{POLICY_ID}"
    state = algo.learner_group.get_state(components=path)
    return state[COMPONENT_LEARNER][COMPONENT_RL_MODULE][POLICY_ID]


# --------------------------------------------------------------------------- the manifest
def _walk_files(folder: Path) -> dict[str, Path]:
    """Every file under ``folder`` by its relative POSIX path; a link or anything other
    than a plain file or folder is a :class:`CheckpointError` (it could point anywhere)."""
    found: dict[str, Path] = {}
    pending = [folder]
    while pending:
        current = pending.pop()
        for entry in sorted(current.iterdir()):
            mode = entry.lstat().st_mode
            rel = entry.relative_to(folder).as_posix()
            if stat.S_ISDIR(mode):
                pending.append(entry)
            elif stat.S_ISREG(mode):
                found[rel] = entry
            else:
                raise CheckpointError(
                    f"checkpoint {folder}: {rel} is a link or special file; allowed: plain "
                    "files and folders only"
                )
    return found


def _file_digest(path: Path, copy_to: Path | None = None) -> tuple[int, str]:
    """Size and SHA-256 of ``path``, read once; the bytes hashed are also written to
    ``copy_to`` when given, so a copy is exactly what was checked."""
    h, size = hashlib.sha256(), 0
    with contextlib.ExitStack() as files:
        src = files.enter_context(open(path, "rb"))
        dst = files.enter_context(open(copy_to, "xb")) if copy_to is not None else None
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
            if dst is not None:
                dst.write(chunk)
    return size, h.hexdigest()


def write_manifest(folder: Path) -> None:
    """List every file of the checkpoint ``folder`` with its size and SHA-256, in the folder
    (written atomically, last, once RLlib's files are complete)."""
    folder = Path(folder)
    files = {}
    for rel, path in _walk_files(folder).items():
        if rel == MANIFEST:
            continue
        size, digest = _file_digest(path)
        files[rel] = {"size": size, "sha256": digest}
    write_json(folder / MANIFEST, {"format": _MANIFEST_FORMAT, "version": 1, "files": files})


def verify_manifest(folder: Path, copy_to: Path | None = None) -> None:
    """Check that ``folder`` holds exactly the files its manifest lists, each with the
    listed size and SHA-256, before anything in it is unpickled; any difference is one
    :class:`CheckpointError` line. With ``copy_to``, the verified bytes are copied there
    as they are hashed (restore from the copy: the folder may change after the check)."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        raise CheckpointError(f"checkpoint {folder}: not a folder")
    manifest_file = folder / MANIFEST
    where = f"checkpoint {folder}"
    if not manifest_file.is_file() or manifest_file.is_symlink():
        raise CheckpointError(
            f"{where}: no {MANIFEST}, so it was not written by this program (or predates "
            "manifests); RLlib checkpoints are pickles, so only ones this program wrote are "
            "restored"
        )
    try:
        manifest = json.loads(manifest_file.read_text())
        listed = manifest["files"]
        ok = manifest.get("format") == _MANIFEST_FORMAT and manifest.get("version") == 1
        ok = ok and isinstance(listed, dict) and all(
            isinstance(v, dict) and isinstance(v.get("size"), int)
            and isinstance(v.get("sha256"), str) for v in listed.values()
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise CheckpointError(f"{where}: {MANIFEST} is not a {_MANIFEST_FORMAT} version 1 file")
    present = _walk_files(folder)
    present.pop(MANIFEST)
    extra = sorted(set(present) - set(listed))
    missing = sorted(set(listed) - set(present))
    if extra or missing:
        parts = [f"files not in its manifest: {', '.join(extra)}"] if extra else []
        parts += [f"files missing: {', '.join(missing)}"] if missing else []
        raise CheckpointError(f"{where}: {'; '.join(parts)}; refusing to restore it")
    for rel in sorted(listed):
        target = None
        if copy_to is not None:
            target = Path(copy_to) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
        size, digest = _file_digest(present[rel], target)
        if size != listed[rel]["size"] or digest != listed[rel]["sha256"]:
            raise CheckpointError(
                f"{where}: {rel} does not match its manifest (size or SHA-256 changed since "
                "this program wrote it); refusing to restore it"
            )


def _latest_rllib(rllib_dir: Path) -> Path | None:
    """The folder with the highest update number, manifest or not (verified later: a folder
    planted there is refused, not skipped in silence)."""
    if not rllib_dir.is_dir():
        return None
    found = [(int(p.name[len("update_") :]), p) for p in rllib_dir.iterdir()
             if p.name.startswith("update_") and p.name[len("update_") :].isdigit()]  # fmt: skip
    return max(found)[1] if found else None


def _resume_point(job: TrainJob, rllib_dir: Path) -> tuple[Path, int]:
    """The latest RLlib checkpoint, verified against its manifest, and its update, checked
    against ``job`` (before Ray)."""
    path = _latest_rllib(rllib_dir)
    if path is None:
        raise CheckpointError(f"--resume: no RLlib checkpoint in {rllib_dir}")
    verify_manifest(path)
    try:
        saved = json.loads((path / _STATE_FILE).read_text())
    except (OSError, ValueError):
        raise CheckpointError(f"checkpoint {path}: no readable {_STATE_FILE}") from None
    old, new = saved["job"], job.model_dump(mode="json")
    keys = ("scenario", "env_config", "algo", "actor", "num_envs", "seed", "hidden", "ppo",
            "trainer", "nproc")  # fmt: skip
    diffs = [f"{k}: {old.get(k)!r} -> {new[k]!r}" for k in keys if old.get(k) != new[k]]
    if diffs:
        raise CheckpointError(
            f"checkpoint {path}: cannot resume with different settings: " + "; ".join(diffs)
        )
    return path, int(saved["update"])


def _restore(algo: Any, path: Path, start: int, out: Path) -> list[dict]:
    """Load the checkpoint into ``algo`` from a private copy of its verified bytes; the
    metrics rows up to ``start``."""
    with tempfile.TemporaryDirectory(prefix="swarm-rllib-restore-") as private:
        copy = Path(private) / path.name
        verify_manifest(path, copy_to=copy)
        algo.restore_from_path(str(copy))
    if not (out / "metrics.parquet").exists():
        return []
    old_rows = pd.read_parquet(out / "metrics.parquet")
    return old_rows[old_rows["update"] <= start].to_dict("records")
