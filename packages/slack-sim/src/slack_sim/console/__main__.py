"""``python -m slack_sim.console``: the same as ``slack-sim console``."""

import sys

from slack_sim.cli import main

if __name__ == "__main__":
    sys.exit(main(["console", *sys.argv[1:]]))
