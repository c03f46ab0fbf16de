"""The clickable picture: an ``<img>`` that reports where it was clicked.

solara's ``Image`` has no click events, and ipyvue's DOM events carry pixel offsets but not
the size the image is shown at (it shrinks with the window), so a small Vue template sends
the click as fractions of the shown width and height, which map to the frame's pixels at
any zoom. The frame arrives as a ``data:`` URL.
"""

from __future__ import annotations

import base64
from typing import Any

import ipyvuetify as v
import traitlets

TEMPLATE = """
<template>
  <img class="swarm-canvas" :src="src" :width="width" :height="height" alt="the swarm"
       style="display: block; max-width: 100%; height: auto; cursor: crosshair"
       @click="clicked($event)" />
</template>
<script>
module.exports = {
  methods: {
    clicked(event) {
      const img = event.target;
      this.pick([event.offsetX / img.clientWidth, event.offsetY / img.clientHeight]);
    },
  },
};
</script>
"""


class SwarmImage(v.VuetifyTemplate):
    """An image (``src``, a data URL) calling ``on_pick([fx, fy])`` when clicked, with
    (fx, fy) the click's fractions of the shown width and height from the top left."""

    template = traitlets.Unicode(TEMPLATE).tag(sync=True)
    src = traitlets.Unicode("").tag(sync=True)
    width = traitlets.Int(720).tag(sync=True)
    height = traitlets.Int(720).tag(sync=True)
    on_pick = traitlets.Callable(None, allow_none=True)

    def vue_pick(self, data: Any) -> None:
        if self.on_pick is not None and isinstance(data, list) and len(data) == 2:
            self.on_pick([float(data[0]), float(data[1])])


def data_url(png: bytes) -> str:
    """A PNG as a ``data:`` URL."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


FIELD_TEMPLATE = """
<template>
  <v-text-field v-model="typed" :label="label" :error-messages="error" dense
                hide-details="auto" @keyup.enter="submit(typed)" @blur="submit(typed)" />
</template>
<script>
module.exports = {
  data() {
    return { typed: "" };
  },
  created() {
    this.typed = this.value;
  },
  watch: {
    value(now) {
      this.typed = now;
    },
  },
};
</script>
"""


class TextField(v.VuetifyTemplate):
    """A text input calling ``on_submit(text)`` on Enter or when it loses focus.

    What is typed stays in the browser and travels with the event, and ``value`` (the
    value the model runs with) only replaces it when it changes. solara's InputText keeps
    the typed text in the widget's state instead, which the page resets to the model's
    value whenever it redraws the sidebar (every step, for the step counter there), so
    while the model played an edit was lost, or a refused one vanished with its message.
    """

    template = traitlets.Unicode(FIELD_TEMPLATE).tag(sync=True)
    value = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    on_submit = traitlets.Callable(None, allow_none=True)

    def vue_submit(self, data: Any) -> None:
        if self.on_submit is not None:
            self.on_submit("" if data is None else str(data))
