"""Allow ``python -m crewtui.sim`` (the same as ``crewtui sim``)."""

from crewtui.sim.cli import main

raise SystemExit(main())
