"""Allow ``python -m crewtui``."""

from crewtui.cli import main

raise SystemExit(main())
