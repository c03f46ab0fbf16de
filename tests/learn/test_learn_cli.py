"""``swarm train``: plug-ins from entry points, the launcher for ranks, clear errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import pandas as pd  # noqa: E402

from swarm.cli import main  # noqa: E402
from swarm.learn.trainers import available_trainers, load_trainer  # noqa: E402

HERE = Path(__file__).parent
TOY = [
    "toy_env:ToyReach", "--set", "horizon=8", "--num-envs", "4", "--rollout-steps", "8",
    "--ppo", "num_minibatches=2", "--ppo", "update_epochs=2", "--hidden", "16", "--quiet",
]  # fmt: skip


def test_builtin_trainers_are_entry_points_like_any_plugin():
    found = available_trainers()
    assert {"local", "ddp", "diloco", "rllib"} <= set(found)
    assert found["ddp"].value == "swarm.learn.trainers:DDPTrainer"
    assert load_trainer("local").name == "local"


def test_train_writes_metrics_and_checkpoints_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "train",
        *TOY,
        "--total-steps",
        str(8 * 4 * 4),
        "--checkpoint-every",
        "2",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert "4 updates" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "update_000002.pt", "update_000004.pt",
    ]  # fmt: skip
    # the same command again would overwrite the run: refused, and nothing is touched
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    longer = [*args[:-4], "--total-steps", str(8 * 4 * 6), "--checkpoint-every", "2",
              "--out", str(out), "--resume"]  # fmt: skip
    assert main(longer) == 0
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert metrics["update"].tolist() == [1, 2, 3, 4, 5, 6]
    assert json.loads((out / "summary.json").read_text())["updates"] == 6


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--trainer", "horovod"],
            "--trainer: unknown 'horovod'; installed: ddp, diloco, local, rllib",
        ),
        (["--trainer", "rllib"], "allowed with --trainer rllib: a registered scenario"),
        (["--total-steps", "10"], "total_steps: 10 is less than one update"),
        (["--ppo", "clip_coef=-1"], "field 'ppo.clip_coef'"),
        (["--ppo", "bogus=1"], "unknown field 'ppo.bogus'"),
        (["--nproc", "2"], "nproc: 2 ranks need a distributed trainer"),
    ],
)
def test_bad_options_fail_with_one_clear_line(tmp_path, capsys, extra, message):
    code = main(["train", *TOY, "--total-steps", "64", "--out", str(tmp_path / "x"), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_ddp_launches_its_own_ranks_through_torchrun(tmp_path):
    """``--trainer ddp --nproc 2`` starts torch.distributed.run; both ranks train in step."""
    out = tmp_path / "ddp"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "swarm.train", *TOY, "--trainer", "ddp", "--nproc", "2",
           "--total-steps", str(8 * 4 * 3), "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # whole: a rank's own error comes before torchrun's
    assert done.stdout.count("via ddp x2") == 1  # rank 0 reports, once
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ranks"] == 2 and summary["updates"] == 3
    weights = torch.load(summary["checkpoint"], weights_only=True)["model"]
    n_params = sum(v.numel() for k, v in weights.items() if not k.startswith("action_"))
    assert summary["comm_bytes_per_rank"] == 3 * 2 * 2 * n_params * 4  # updates x epochs x mbs


def test_default_rollout_is_one_whole_episode_so_every_update_scores_episodes(tmp_path, capsys):
    """Updates restart the envs: a rollout shorter than an episode would never finish one."""
    out = tmp_path / "nav"
    args = ["train", "navigation", "--set", "max_cycles=12", "--num-envs", "2", "--hidden",
            "16", "--total-steps", str(2 * 12 * 2), "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert metrics["episodes"].tolist() == [2, 2] and metrics["episode_return"].notna().all()
    short = ["train", "navigation", "--set", "max_cycles=12", "--rollout-steps", "5",
             "--total-steps", "100", "--out", str(tmp_path / "short"), "--quiet"]  # fmt: skip
    assert main(short) == 2
    assert "ppo.rollout_steps: 5 is shorter than an episode (max_cycles 12)" in (
        capsys.readouterr().err
    )


def test_view_plays_a_learned_policy_and_names_the_scenario_it_needs(tmp_path, capsys):
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    import imageio.v2 as imageio

    run = tmp_path / "nav"
    assert main(["train", "navigation", "--set", "max_cycles=8", "--num-envs", "2", "--hidden",
                 "16", "--total-steps", "16", "--out", str(run), "--quiet"]) == 0  # fmt: skip
    gif = tmp_path / "learned.gif"
    args = ["view", "navigation", "--policy", str(run), "--record", str(gif), "--steps", "3",
            "--headless", "--width", "64", "--height", "64"]  # fmt: skip
    assert main(args) == 0 and len(imageio.mimread(gif)) == 3
    capsys.readouterr()
    assert main(["view", "flocking", "--policy", str(run), "--headless", "--steps", "1"]) == 2
    assert "trained on 'navigation', not 'flocking'" in capsys.readouterr().err


def test_train_starts_only_in_a_new_or_empty_folder(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    code = main(["train", "navigation", "--total-steps", "2000", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "already holds files (notes.txt)" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_audit_cli_takes_a_training_run(tmp_path, capsys):
    out = tmp_path / "nav"
    assert main(["train", "navigation", "--total-steps", "2000", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["audit", "navigation", "--policy", str(out), "--agents", "6", "--steps", "2"]) == 0
    assert "learned is local on navigation: 12 agent-steps" in capsys.readouterr().out
    assert main(["audit", "flocking", "--policy", str(out)]) == 2
    assert "was trained on 'navigation', not 'flocking'" in capsys.readouterr().err
