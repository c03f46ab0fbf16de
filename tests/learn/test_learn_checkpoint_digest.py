"""Checkpoint digests: a changed byte in a tensor or in the metadata fails with one line.

The restricted unpickler alone accepts a flipped byte inside a stored tensor (the archive is
still valid, the values merely differ), so every checkpoint carries a digest of its contents.
"""

import zipfile

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

from swarm.learn.checkpoint import (  # noqa: E402
    CheckpointError,
    load_checkpoint,
    payload_digest,
    save_checkpoint,
)
from swarm.learn.nets import ActorCritic, NetSpec  # noqa: E402

SPEC = NetSpec(obs_dim=5, act_dim=2, actor="mlp", critic="local", hidden=8,
               action_low=[-1.0, -1.0], action_high=[1.0, 1.0])  # fmt: skip


def _save(path):
    model = ActorCritic(SPEC)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()  # fills the optimiser state: int keys, step tensors, tuples
    save_checkpoint(path, {
        "update": 3, "env_steps": 96, "job": {"scenario": "navigation", "seed": 0},
        "net_spec": SPEC.model_dump(mode="json"), "world_size": 1,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
    })  # fmt: skip
    return model, optimizer


def _rewrite_member(src, dst, pick, change):
    """Copy the zip ``src`` to ``dst`` with the member chosen by ``pick`` changed: a valid
    archive (fresh CRCs), only the bytes differ."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        names = [item.filename for item in zin.infolist()]
        target = pick(names)
        for item in zin.infolist():
            data = zin.read(item)
            zout.writestr(item, change(data) if item.filename == target else data)
    return target


def _flip(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_an_untouched_checkpoint_loads_and_round_trips(tmp_path):
    path = tmp_path / "update_000003.pt"
    model, _ = _save(path)
    saved = load_checkpoint(path)
    assert saved["version"] == 2 and len(saved["digest"]) == 64
    assert saved["digest"] == payload_digest(saved)
    for name, value in model.state_dict().items():
        assert torch.equal(saved["model"][name], value)
    again = torch.optim.Adam(ActorCritic(SPEC).parameters(), lr=1e-3)
    again.load_state_dict(saved["optimizer"])
    assert saved["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    # the same contents give the same digest, whatever the dict order
    reordered = dict(reversed(list(saved.items())))
    assert payload_digest(reordered) == saved["digest"]


@pytest.mark.parametrize("at", [0, -1])
def test_a_flipped_byte_in_a_stored_tensor_fails_with_one_line(tmp_path, at):
    good = tmp_path / "update_000003.pt"
    _save(good)
    bad = tmp_path / "update_000004.pt"
    member = _rewrite_member(
        good, bad, lambda names: next(n for n in names if n.endswith("/data/0")),
        lambda data: _flip(data, at if at >= 0 else len(data) - 1),
    )  # fmt: skip
    assert member.endswith("/data/0")
    # the archive itself is fine: PyTorch loads it, with a different tensor
    raw = torch.load(bad, weights_only=True)
    assert not all(
        torch.equal(raw["model"][k], v) for k, v in load_checkpoint(good)["model"].items()
    )
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert str(bad) in message and "digest does not match" in message


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(update=4),
        lambda d: d["job"].update(seed=1),
        lambda d: d["optimizer"]["param_groups"][0].update(lr=1e-2),
        lambda d: d.update(extra="added"),
        lambda d: d.update(digest="0" * 64),
    ],
    ids=["update", "job.seed", "optimizer.lr", "added key", "digest"],
)
def test_a_changed_metadata_value_fails_with_one_line(tmp_path, edit):
    """Edited with the program's own tools (a valid archive, a valid pickle): refused."""
    good = tmp_path / "update_000003.pt"
    _save(good)
    data = torch.load(good, weights_only=True)
    edit(data)
    bad = tmp_path / "update_000009.pt"
    torch.save(data, bad)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert str(bad) in message and "digest does not match" in message


def test_a_changed_byte_in_the_pickled_metadata_fails(tmp_path):
    """A byte of a string inside data.pkl changed in place (same length: a valid pickle)."""
    good = tmp_path / "update_000003.pt"
    _save(good)
    bad = tmp_path / "bad.pt"

    def change(data: bytes) -> bytes:
        at = data.index(b"navigation")
        return data[:at] + b"navigatioN" + data[at + len(b"navigation") :]

    _rewrite_member(good, bad, lambda names: next(n for n in names if n.endswith("data.pkl")),
                    change)  # fmt: skip
    assert torch.load(bad, weights_only=True)["job"]["scenario"] == "navigatioN"
    with pytest.raises(CheckpointError, match="digest does not match"):
        load_checkpoint(bad)


def test_a_version_1_checkpoint_is_refused_with_one_line(tmp_path):
    old = tmp_path / "update_000001.pt"
    torch.save({"format": "swarm-learn-checkpoint", "version": 1, "update": 1, "env_steps": 1,
                "job": {}, "net_spec": {}, "model": {}}, old)  # fmt: skip
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(old)
    message = str(caught.value)
    assert "\n" not in message and str(old) in message
    assert "format version 1" in message and "reads version 2 only" in message


def test_a_payload_the_digest_cannot_cover_is_refused_on_save(tmp_path):
    payload = {"update": 1, "env_steps": 1, "job": {}, "net_spec": {}, "model": {}}
    with pytest.raises(ValueError, match="set value"):
        save_checkpoint(tmp_path / "x.pt", {**payload, "odd": {1, 2}})
    assert not (tmp_path / "x.pt").exists()
