"""The AMP simulator: four example crews and a flow on a real HTTP server (``crewtui sim``).

A product feature, not test scaffolding: the demo, the test suite and users' own
integration tests run against it.
"""

from crewtui.sim.cli import main
from crewtui.sim.server import FaultSettings, SimOptions, SimServer, ThreadedServer, create_app

__all__ = ["FaultSettings", "SimOptions", "SimServer", "ThreadedServer", "create_app", "main"]
