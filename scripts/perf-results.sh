#!/usr/bin/env bash
# Assembles tests/perf/RESULTS.md from the per-area figures each benchmark writes into tests/perf/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Benchmark results"
  echo
  echo "Produced by \`make bench\` (= \`pytest tests/perf -s -o addopts=\"\"\`, then this file is assembled by"
  echo "\`scripts/perf-results.sh\` from \`tests/perf/results/*.md\`). Each section names the exact command that"
  echo "produced it and compares against a baseline measured in the same run. Machine: 2 cores, 24 GB, shared"
  echo "and noisy: read ratios and medians, not single figures."
  for area in refactor sim client slack alerts fleet jupyter notifications notifications-gc lab-panel; do
    file="tests/perf/results/$area.md"
    [ -f "$file" ] || continue
    echo
    sed -e 's/^## /### /' -e 's/^# /## /' "$file"
  done
  # Written by tests/perf/runs.py at each run: every run's figures, the median and the worst run.
  if compgen -G "tests/perf/results/latest/*.md" > /dev/null; then
    echo
    echo "## Latest runs (tests/perf/runs.py: goals asserted on the median of >= 5 runs, worst run reported)"
    for file in tests/perf/results/latest/*.md; do
      echo
      sed -e 's/^## /### /' "$file"
    done
  fi
} > tests/perf/RESULTS.md
echo "wrote tests/perf/RESULTS.md"
