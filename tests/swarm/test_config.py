"""Bad configuration fails at the boundary with one line naming the field."""

import pytest

from envs.flocking import FlockingModel
from swarm.config import ConfigError


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_agents": 0}, r"field 'n_agents': Input should be greater than or equal to 1"),
        ({"n_agent": 5}, r"unknown field 'n_agent'; allowed fields: .*n_agents"),
        ({"boundary": "sphere"}, r"field 'boundary': Input should be 'torus' or 'box'"),
        ({"sense_radius": "far"}, r"field 'sense_radius': Input should be a valid number"),
        ({"packet_drop": 1.5}, r"field 'packet_drop': Input should be less than or equal to 1"),
        ({"policy": "magic"}, r"field 'policy': .*unknown policy; allowed: .*boids, .*vicsek"),
        ({"comm_topology": "hypercube"}, r"field 'comm_topology': .*one of ring"),
        ({"crash_at": {3: [99]}, "n_agents": 5}, r"crash_at: rows \[99\] are not in 0..4"),
        ({"policy_params": {"eta": 9.0}, "policy": "vicsek"}, r"eta.*less than or equal"),
        ({"policy_params": {"wrong": 1}}, r"unknown field 'wrong'; allowed fields: .*w_cohesion"),
    ],
)
def test_bad_values_name_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        FlockingModel(rng=0, **kwargs)


def test_resolved_config_round_trips_through_json_with_inf():
    import json

    import networkx as nx

    from envs.flocking import FlockingConfig

    config = FlockingConfig(max_accel=float("inf"), crash_at={3: [1]})
    assert FlockingConfig(**json.loads(config.model_dump_json())) == config
    ring = FlockingConfig(n_agents=6, comm_model="fixed", comm_topology=nx.cycle_graph(6))
    back = FlockingConfig(**json.loads(ring.model_dump_json()))
    assert nx.utils.graphs_equal(back.comm_topology, ring.comm_topology)
