"""One rank of a distributed run: ``python -m swarm.learn.worker runs/NAME/job.json``.

What ``swarm train --trainer ddp --nproc N`` asks torchrun's launcher to start N times. The
job file is the invocation ``swarm train`` validated and wrote; the trainer named in it joins
torchrun's process group and trains.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from swarm.learn.loop import TrainJob
from swarm.learn.trainers import load_trainer


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m swarm.learn.worker JOB.json (started by torchrun)", file=sys.stderr)
        return 2
    job = TrainJob.build("job", **json.loads(Path(args[0]).read_text()))
    load_trainer(job.trainer).run(job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
