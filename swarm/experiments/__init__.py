"""Headless experiments at scale: a TOML spec, a sweep x seeds, resumable results, plots.

The pieces, in the order an experiment flows through them:

* :mod:`swarm.experiments.schema`: the TOML spec's layout (pydantic models), with
  :mod:`swarm.experiments.errors` turning validation errors into one line per problem;
* :mod:`swarm.experiments.load`: reading a spec and applying ``--set`` overrides;
* :mod:`swarm.experiments.plan`: its expansion into one
  :class:`~swarm.experiments.worker.RunTask` per (sweep point, seed), each config validated;
* :mod:`swarm.experiments.plain`: specs and values as plain JSON data (``spec.json``);
* :mod:`swarm.experiments.worker`: runs one task (a pure function of the task, so any process
  or machine gives the same result);
* :mod:`swarm.experiments.executors`: where the tasks run (in process, a local process pool,
  or a Ray cluster);
* :mod:`swarm.experiments.store`: the results folder, written run by run, atomically;
* :mod:`swarm.experiments.report`: the summary table (mean and t confidence interval over
  seeds) and the plots.

:mod:`swarm.experiment` ties them together for ``swarm run SPEC.toml`` and ``swarm report``.
:mod:`swarm.experiments.spec` re-exports the spec's public names in one place
(``from swarm.experiments.spec import load_spec, plan``).
"""
