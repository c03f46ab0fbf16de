"""RLlib resume unpickles nothing this program did not write.

RLlib's checkpoints are pickles; ``--resume`` restores one only when every file of its
folder matches the manifest written with it. The manifest checks run on fake folders without
Ray; the end-to-end check (a hostile ``algorithm_state.pkl`` in a real run folder) is slow.
"""

import json
import os
import pickle
import shutil

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

from swarm.cli import main  # noqa: E402
from swarm.learn.checkpoint import CheckpointError  # noqa: E402
from swarm.learn.loop import TrainJob  # noqa: E402
from swarm.learn.rllib import MANIFEST, _resume_point, verify_manifest, write_manifest  # noqa: E402


class Hostile:
    """Unpickling it creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _fake_checkpoint(folder):
    (folder / "learner_group" / "learner").mkdir(parents=True)
    (folder / "algorithm_state.pkl").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    (folder / "learner_group" / "learner" / "state.pkl").write_bytes(b"\x80\x04N." * 100)
    (folder / "metadata.json").write_text("{}")
    (folder / "swarm_state.json").write_text(json.dumps({"update": 2, "env_steps": 80,
                                                         "job": {}}))  # fmt: skip
    write_manifest(folder)
    return folder


def _refused(folder, match):
    with pytest.raises(CheckpointError) as caught:
        verify_manifest(folder)
    message = str(caught.value)
    assert "\n" not in message and str(folder) in message
    assert match in message, message
    return message


def test_the_manifest_lists_every_file_and_an_untouched_folder_passes(tmp_path):
    folder = _fake_checkpoint(tmp_path / "update_000002")
    listed = json.loads((folder / MANIFEST).read_text())["files"]
    assert sorted(listed) == ["algorithm_state.pkl", "learner_group/learner/state.pkl",
                              "metadata.json", "swarm_state.json"]  # fmt: skip
    assert listed["metadata.json"]["size"] == 2
    verify_manifest(folder)
    copy = tmp_path / "copy"
    verify_manifest(folder, copy_to=copy)  # the bytes checked are the bytes copied
    for rel in listed:
        assert (copy / rel).read_bytes() == (folder / rel).read_bytes()


def test_a_replaced_pickle_is_refused(tmp_path):
    folder = _fake_checkpoint(tmp_path / "update_000002")
    (folder / "algorithm_state.pkl").write_bytes(pickle.dumps(Hostile(tmp_path / "marker")))
    _refused(folder, "algorithm_state.pkl does not match its manifest")
    assert not (tmp_path / "marker").exists()


def test_a_changed_byte_of_the_same_size_is_refused(tmp_path):
    folder = _fake_checkpoint(tmp_path / "update_000002")
    nested = folder / "learner_group" / "learner" / "state.pkl"
    data = bytearray(nested.read_bytes())
    data[7] ^= 0x01
    nested.write_bytes(bytes(data))
    _refused(folder, "learner_group/learner/state.pkl does not match its manifest")


def test_an_added_or_missing_file_is_refused(tmp_path):
    folder = _fake_checkpoint(tmp_path / "update_000002")
    (folder / "learner_group" / "extra.pkl").write_bytes(b"x")
    _refused(folder, "files not in its manifest: learner_group/extra.pkl")
    (folder / "learner_group" / "extra.pkl").unlink()
    (folder / "metadata.json").unlink()
    _refused(folder, "files missing: metadata.json")


def test_a_link_is_refused(tmp_path):
    folder = _fake_checkpoint(tmp_path / "update_000002")
    outside = tmp_path / "outside.pkl"
    outside.write_bytes((folder / "algorithm_state.pkl").read_bytes())
    (folder / "algorithm_state.pkl").unlink()
    os.symlink(outside, folder / "algorithm_state.pkl")  # same bytes, but could change later
    _refused(folder, "algorithm_state.pkl is a link or special file")


def test_a_folder_without_a_valid_manifest_is_refused(tmp_path):
    folder = _fake_checkpoint(tmp_path / "update_000002")
    (folder / MANIFEST).write_text("not json")
    _refused(folder, f"{MANIFEST} is not a swarm-rllib-manifest version 1 file")
    (folder / MANIFEST).unlink()
    _refused(folder, "was not written by this program")


def test_resume_refuses_a_planted_checkpoint_before_reading_it(tmp_path):
    """A newer folder dropped into checkpoints/rllib/ is refused, not skipped in silence."""
    rllib_dir = tmp_path / "run" / "checkpoints" / "rllib"
    _fake_checkpoint(rllib_dir / "update_000002")
    planted = rllib_dir / "update_000004"
    shutil.copytree(rllib_dir / "update_000002", planted)
    (planted / MANIFEST).unlink()
    (planted / "algorithm_state.pkl").write_bytes(pickle.dumps(Hostile(tmp_path / "marker")))
    job = TrainJob(scenario="navigation", trainer="rllib", total_steps=160,
                   out=str(tmp_path / "run"), resume=True, progress=False)  # fmt: skip
    with pytest.raises(CheckpointError, match=r"update_000004: no swarm_manifest\.json"):
        _resume_point(job, rllib_dir)
    assert not (tmp_path / "marker").exists()


# --------------------------------------------------------------------------- with Ray
NAV = [
    "navigation", "--trainer", "rllib", "--set", "n_agents=3", "--set", "max_cycles=20",
    "--num-envs", "2", "--hidden", "16", "--ppo", "update_epochs=2", "--quiet",
    "--checkpoint-every", "2",
]  # fmt: skip


@pytest.mark.slow
def test_rllib_resume_refuses_a_hostile_pickle_and_restores_an_untouched_one(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *NAV, "--total-steps", "80", "--out", str(run)]) == 0
    checkpoint = run / "checkpoints" / "rllib" / "update_000002"
    assert (checkpoint / MANIFEST).is_file()
    verify_manifest(checkpoint)
    shutil.copytree(run, tmp_path / "good")

    state = next(checkpoint.rglob("algorithm_state.pkl"))
    marker = tmp_path / "marker"
    state.write_bytes(pickle.dumps(Hostile(marker)))
    capsys.readouterr()
    code = main(["train", *NAV, "--total-steps", "160", "--out", str(run), "--resume"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "algorithm_state.pkl does not match its manifest" in err
    assert not marker.exists()

    good = tmp_path / "good"
    assert main(["train", *NAV, "--total-steps", "160", "--out", str(good), "--resume"]) == 0
    summary = json.loads((good / "summary.json").read_text())
    assert summary["updates"] == 4
    assert (good / "checkpoints" / "rllib" / "update_000004" / MANIFEST).is_file()
    assert not marker.exists()
