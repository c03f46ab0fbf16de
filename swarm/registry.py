"""The one registry of scenarios and policies.

Entries are import paths, resolved on first use, so listing names costs nothing and a
broken optional module does not break the others. ``tests/test_registry.py`` checks that
these tables match the modules on disk, both ways.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from swarm.config import ConfigError

SCENARIOS: dict[str, str] = {
    "flocking": "envs.flocking:FlockingModel",
    "consensus": "envs.consensus:ConsensusModel",
    "coverage": "envs.coverage:CoverageModel",
    "search": "envs.search:SearchModel",
    "formation": "envs.formation:FormationModel",
    "navigation": "envs.navigation:NavigationModel",
    "warehouse": "envs.warehouse:WarehouseModel",
    "pursuit": "envs.pursuit:PursuitModel",
    "spatial_dilemma": "envs.spatial_dilemma:SpatialDilemmaModel",
    "crossing": "envs.crossing:CrossingModel",
}

POLICIES: dict[str, str] = {
    "boids": "policies.boids:Boids",
    "vicsek": "policies.vicsek:Vicsek",
    "olfati_saber": "policies.olfati_saber:OlfatiSaber",
    "average_consensus": "policies.average_consensus:AverageConsensus",
    "max_consensus": "policies.max_consensus:MaxConsensus",
    "rendezvous": "policies.rendezvous:Rendezvous",
    "lloyd": "policies.lloyd:Lloyd",
    "random_walk": "policies.random_walk:RandomWalk",
    "stigmergy": "policies.stigmergy:Stigmergy",
    "pso": "policies.pso:PSO",
    "cbaa": "policies.cbaa:CBAA",
    "formation": "policies.formation:Formation",
    # pursuit-evasion: pursuers' and evaders' controllers (scenario = "pursuit")
    "greedy_pursuit": "policies.greedy_pursuit:GreedyPursuit",
    "voronoi_pursuit": "policies.voronoi_pursuit:VoronoiPursuit",
    "flee": "policies.flee:Flee",
    "voronoi_evade": "policies.voronoi_evade:VoronoiEvade",
    # games on the comm graph (scenario = "spatial_dilemma")
    "imitate_best": "policies.imitate_best:ImitateBest",
    # antipodal crossing (scenario = "crossing")
    "goto": "policies.goto:GoTo",
    # warehouse controllers (swarm.grid.policy.GridPolicy, scenario = "warehouse")
    "greedy_yield": "policies.greedy_yield:GreedyYield",
    "pibt": "policies.pibt:PIBT",
    "epibt": "policies.epibt:EPIBT",
    "auction": "policies.auction:Auction",
}


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def require_known(kind: str, value: str) -> str:
    """``value`` if it names a registered ``kind`` ("scenario" or "policy"); else the
    ValueError a config validator turns into its one line (naming what is allowed)."""
    table = SCENARIOS if kind == "scenario" else POLICIES
    if value not in table:
        raise ValueError(f"unknown {kind}; allowed: {', '.join(sorted(table))}")
    return value


def scenario_class(name: str) -> Any:
    """The Mesa model class registered as ``name``."""
    if name not in SCENARIOS:
        raise ConfigError(f"scenario: unknown {name!r}; allowed: {', '.join(sorted(SCENARIOS))}")
    return _load(SCENARIOS[name])


def policy_class(name: str) -> Any:
    """The policy class registered as ``name``."""
    if name not in POLICIES:
        raise ConfigError(f"policy: unknown {name!r}; allowed: {', '.join(sorted(POLICIES))}")
    return _load(POLICIES[name])


def policy_fits(scenario: str, policy: str) -> bool:
    """Whether the controller ``policy`` can run in ``scenario``: it names the scenario in its
    ``scenarios``, or declares none and the scenario is a drone scenario."""
    from swarm.model import SwarmModel

    runs_in = getattr(policy_class(policy), "scenarios", None)
    if runs_in is None:
        return issubclass(scenario_class(scenario), SwarmModel)
    return scenario in runs_in


def three_d_summary() -> str:
    """The scenarios that fly in 3-D with their 3-D controllers, e.g. ``flocking (boids,
    olfati_saber, random_walk)``: what a refusal of ``dim = 3`` says is allowed. Scenarios
    declare ``dims`` on their config class (:func:`swarm.engine.config_dims`), controllers
    on the policy class (``Policy.dims``)."""
    from swarm.engine import config_dims
    from swarm.model import SwarmModel

    parts = []
    for scenario in SCENARIOS:
        model = scenario_class(scenario)
        if not issubclass(model, SwarmModel) or 3 not in config_dims(model.config_class):
            continue
        flown = [p for p in policies_for(scenario) if 3 in getattr(policy_class(p), "dims", ())]
        parts.append(f"{scenario} ({', '.join(flown)})")
    return ", ".join(parts) or "no scenario"


def policies_for(scenario: str) -> list[str]:
    """The registered controllers that can run in ``scenario``."""
    return sorted(name for name in POLICIES if policy_fits(scenario, name))


def check_policy_fits(scenario: str, policy: str, field: str = "policy") -> None:
    """Refuse, with one line naming ``field``, a controller written for another scenario."""
    if policy in POLICIES and not policy_fits(scenario, policy):
        raise ConfigError(
            f"{field}: {policy!r} does not run in {scenario}; allowed: "
            f"{', '.join(policies_for(scenario))}"
        )


def policy_options(scenario: str, given: list[str] | None) -> dict[str, str]:
    """Config fields from ``--policy`` options: a bare ``NAME`` is the scenario's controller
    (``policy``); ``TEAM=NAME``, once per team, a team's controller in a scenario with teams
    (``pursuers=voronoi_pursuit``; the model class maps team names to config fields in
    ``team_policy_fields``)."""
    teams: dict[str, str] = getattr(scenario_class(scenario), "team_policy_fields", {})
    fields: dict[str, str] = {}
    for value in given or []:
        team, eq, name = value.partition("=")
        if not eq:
            team, field, name = "", "policy", value
        elif not teams:
            raise ConfigError(f"--policy {value}: {scenario} has no teams; give a controller "
                              "name (see `swarm list`)")  # fmt: skip
        elif team not in teams:
            raise ConfigError(f"--policy {value}: unknown team {team!r}; teams of {scenario}: "
                              f"{', '.join(teams)}")  # fmt: skip
        else:
            field = teams[team]
        if field in fields:
            raise ConfigError(f"--policy: {team or 'the controller'} is given twice")
        fields[field] = name
    return fields


def is_learned(policy: str) -> bool:
    """A path to a training run folder or checkpoint file, rather than a controller name."""
    from pathlib import Path

    return Path(policy).exists() or policy.endswith(".pt") or "/" in policy


def _needs_torch(option: str) -> ConfigError:
    return ConfigError(
        f"{option}: a learned policy needs torch (pip install torch==2.13.0 && "
        'pip install -e ".[learn]")'
    )


def load_learned(
    path: str, scenario: str, option: str = "--policy", team: str | None = None, **config: Any
) -> Any:
    """The learned policy in a run folder or checkpoint (``swarm train``'s output), checked
    to be trained on ``scenario``; ``config``: scenario fields to change from training;
    ``team``: which team's policy of a self-play run (its name in the checkpoint)."""
    try:
        from swarm.learn.policy import load_policy
    except ImportError:
        raise _needs_torch(option) from None
    policy = load_policy(path, team=team, **config)
    if policy.trained_on != scenario:
        raise ConfigError(
            f"{option}: {path} was trained on {policy.trained_on!r}, not {scenario!r}; "
            f"allowed scenario: {policy.trained_on}"
        )
    return policy


def model_maker(
    scenario: str, policies: list[str] | None, config: dict[str, Any], option: str = "--policy"
) -> Callable[[int], Any]:
    """``seed -> model`` with the controllers that ``--policy`` values name, loaded once.

    A value is a controller name, a learned run (a ``swarm train`` folder or checkpoint), or
    in a scenario with teams ``TEAM=NAME`` or ``TEAM=RUN`` once per team
    (``pursuers=runs/selfplay``: the pursuers' policy of a self-play run, which holds one
    per team). Teams not named keep the config's controllers. Learned policies bring the
    scenario settings they were trained with (the first one's, where teams mix); ``config``
    overrides them. Every problem is a one-line :class:`ConfigError`.
    """
    cls = scenario_class(scenario)
    given = list(policies or [])
    if len(given) == 1 and "=" not in given[0] and is_learned(given[0]):
        return load_learned(given[0], scenario, option, **config).make_model
    team_keys = list(getattr(cls, "team_policy_fields", {}))  # in the teams' declared order
    learned: dict[str, str] = {}
    classic: list[str] = []
    for value in given:
        team, eq, name = value.partition("=")
        if eq and team in team_keys and is_learned(name):
            if team in learned:
                raise ConfigError(f"{option}: {team} is given twice")
            learned[team] = name
        else:
            classic.append(value)
    fields = policy_options(scenario, classic)
    for team in learned:
        if cls.team_policy_fields[team] in fields:
            raise ConfigError(f"{option}: {team} is given twice")
    if not learned:
        return lambda seed: cls(rng=seed, **{**config, **fields})
    from swarm.teams import TeamPolicy

    loaded: dict[int, Any] = {}
    settings: dict[str, Any] = dict(config)
    for team, path in learned.items():
        code = team_keys.index(team)
        policy = load_learned(path, scenario, option, team=_checkpoint_team(path, code, option),
                              **settings)  # fmt: skip
        if not loaded:  # the first learned policy's training settings, then config's
            settings = {**policy.env_config, **config}
        loaded[code] = policy
    model_config = {**next(iter(loaded.values())).model_config(**config), **fields}

    def make(seed: int) -> Any:
        model = cls(rng=seed, **model_config)
        chosen = {**model.policy.policies, **loaded}
        model.policy = TeamPolicy(chosen, model.engine.teams.names, seed=model.engine.policy_seed)
        return model

    return make


def _checkpoint_team(path: str, code: int, option: str) -> str:
    """The name, in a self-play checkpoint, of the team with code ``code``."""
    try:
        from swarm.learn.policy import checkpoint_teams
    except ImportError:
        raise _needs_torch(option) from None
    names = checkpoint_teams(path)
    if len(names) <= code:
        raise ConfigError(
            f"{option}: {path} holds no per-team policies (trained without teams); a team "
            "plays a policy trained for it by self-play (swarm train on a scenario with teams)"
        )
    return names[code]
