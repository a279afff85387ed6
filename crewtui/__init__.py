"""crewtui: a terminal monitor for crews deployed on CrewAI AMP."""

__version__ = "0.1.0"
