"""``crewtui demo``: the app on the in-process simulator, with a day of runs to look at.

- :mod:`crewtui.demo.app`: the app, its config and its throwaway home;
- :mod:`crewtui.demo.history`: runs from the days before, replayed into the store;
- :mod:`crewtui.demo.schedule`: the runs that keep starting while the demo is open;
- :mod:`crewtui.demo.inputs`: what those runs ask the crews.
"""

from crewtui.demo.app import DEFAULT_SEED, DemoApp, build_demo, demo_config, run_demo

__all__ = ["DEFAULT_SEED", "DemoApp", "build_demo", "demo_config", "run_demo"]
