"""A web view of every scenario, on Mesa's SolaraViz: ``swarm web SCENARIO``, or in Jupyter.

The drones have no Mesa space, so the swarm is drawn by the pygame viewer's renderer from
the scenario's declared render layers (:mod:`swarm.viewer.layers`) and sent to the browser
as a PNG; everything Mesa already provides is Mesa's: play, pause, step, reset, the play
and render intervals, the seed slider, the step counter and the metric plots.

Modules, one concern each (only :mod:`~swarm.web.session`, :mod:`~swarm.web.fields` and
:mod:`~swarm.web.frames` work without solara):

- :mod:`~swarm.web.session`: what a page shows (scenario, controllers, config, seed) and
  how its model is rebuilt, by Mesa's reset or by a config edit;
- :mod:`~swarm.web.fields`: the typed config as Mesa input specs, and each edit checked
  against it (the pydantic message of a bad value);
- :mod:`~swarm.web.frames`: the picture as PNG bytes, and which agent a click hits;
- :mod:`~swarm.web.widgets`: the clickable picture in the browser;
- :mod:`~swarm.web.components`: the solara components (canvas, agent panel, config form,
  live plots);
- :mod:`~swarm.web.app`: the page: SolaraViz around those components (``view(...)``);
- :mod:`~swarm.web.server`: the solara server behind ``swarm web``.
"""

import warnings

# solara's hook checker flags a line of Mesa's own SolaraViz at import (a hook after an
# early return that never returns early in practice); the warning is Mesa's to fix
warnings.filterwarnings(
    "ignore",
    message=r".*ComponentsView: `use_state` found despite early return",
    category=UserWarning,
)
