"""Learned controllers and how they are trained (needs the ``learn`` extra: torch).

``nets``        the networks: an MLP actor shared by every agent, a GNN actor that reads only
                the messages its comm-graph neighbours sent, local and centralised critics
``ppo``         PPO in one file, read top to bottom: rollout, GAE, losses, update
``envs``        the trainer's view of a batched scenario (observations, state, comm senders)
``loop``        the training loop every trainer plug-in shares (metrics, checkpoints, resume)
``trainers``    the built-in plug-ins of the ``swarm.trainers`` entry-point group
``checkpoint``  saving and loading with ``torch.load(weights_only=True)``
``policy``      a trained actor in the ``Policy`` slot, next to the classic controllers
``teams``       self-play: one network per team of a scenario with teams
``evaluate``    ``swarm eval``: learned against classic on the same seeds; cross-play tables
"""
