"""experiments/tune_guidance.py: candidates run on a later task round, the best is chosen."""

import re

import numpy as np

from swarm.grid.layout import LayoutParams, generate_layout, random_instance
from swarm.grid.maps import write_instance


def test_candidates_start_halfway_down_the_stream_and_the_most_errands_win(
    tmp_path, capsys, experiment_script
):
    grid = generate_layout(LayoutParams(block_rows=1, block_cols=2))
    inst = random_instance(grid, 12, 12 * 40, np.random.default_rng(0), name="tiny")
    path = write_instance(inst, tmp_path)
    tune = experiment_script("tune_guidance")
    rounds = []
    real = tune.run_row

    def spy(*args, first_round=0, **kwargs):
        rounds.append(first_round)
        return real(*args, first_round=first_round, **kwargs)

    tune.run_row = spy
    assert tune.main(["--instance", str(path), "--weights", "2", "4", "--reaches", "0", "3",
                      "--steps", "60", "--controller", "pibt-global"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "(candidates start at task round 20)" in out and rounds == [20] * 4
    assert out.startswith("python experiments/tune_guidance.py --instance ")
    rows = [line for line in out.splitlines() if line.startswith("| tiny |")]
    errands = {
        re.search(r"flow:[\d:]+", line).group(0): int(line.split("|")[6].replace(",", ""))
        for line in rows
    }
    assert list(errands) == ["flow:2", "flow:2:3", "flow:4", "flow:4:3"]
    best = max(errands, key=errands.get)  # the first of equals, as the script takes it
    assert f"chosen: {best} ({errands[best]:,} errands" in out
    assert f"--guidance {best}" in out
