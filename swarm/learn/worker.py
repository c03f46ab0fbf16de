"""One rank of a distributed run: ``python -m swarm.learn.worker runs/NAME/job.json``.

What ``swarm train --trainer ddp --nproc N`` asks torchrun's launcher to start N times. The
job file is the invocation ``swarm train`` validated and wrote; the trainer named in it joins
torchrun's process group and trains. A rank dies with the launcher that started it (and the
launcher with ``swarm train``), so no rank trains on after the command is gone.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path

from swarm.lifeline import die_with_parent

LAUNCHED_BY = "SWARM_TRAIN_PID"  # set by swarm train for the launcher and so for its ranks


def _orphaned_at_start() -> bool:
    """Whether the ``swarm train`` that launched this rank is already gone: then so is the
    launcher, which may have died while this interpreter was still starting (before
    :func:`die_with_parent` could notice, since the parent it sees is already the new one)."""
    pid = os.environ.get(LAUNCHED_BY, "")
    if not pid.isdigit():
        return False  # not started by our launch (an external torchrun)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed process not yet reaped by its parent still answers signal 0
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def main(argv: list[str] | None = None) -> int:
    die_with_parent()  # first thing: the launcher's death ends this rank
    if _orphaned_at_start():
        os.kill(os.getpid(), signal.SIGKILL)
    from swarm.learn.loop import TrainJob
    from swarm.learn.trainers import load_trainer

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m swarm.learn.worker JOB.json (started by torchrun)", file=sys.stderr)
        return 2
    job = TrainJob.build("job", **json.loads(Path(args[0]).read_text()))
    load_trainer(job.trainer).run(job)
    return 0


if __name__ == "__main__":
    try:
        exit_code = main()
    except Exception:  # reported here, then the same exit as a clean run's (no finalisation)
        traceback.print_exc()
        exit_code = 1
    from swarm.learn.trainers import leave_rank

    leave_rank(exit_code)
