"""``python -m slack_sim``: the same as ``slack-sim``."""

import sys

from slack_sim.cli import main

if __name__ == "__main__":
    sys.exit(main())
