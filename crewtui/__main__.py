"""Allow ``python -m crewtui``."""

import gc

# Start-up (imports, the models' schemas, the first screen) makes objects that live as long
# as the process: the collector is paused until it is over (see ``crewtui.cli.main``).
gc.disable()

from crewtui.cli import main  # noqa: E402 (after the pause, which its imports are for)

raise SystemExit(main())
