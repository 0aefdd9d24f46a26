"""`make bench`: the whole system under load, measured from the outside.

    make bench                          # full: a few minutes
    make bench BENCH_ARGS=--quick       # about a minute
    .venv/bin/python bench/stack.py --help

What runs, the workload and the phases: bench/stackbench/__init__.py. The package, by
responsibility: cli (options, main), lock and machine (the e2e lock, other stacks, the code
version), services (the five services as processes), workload (the workflow), observer
(completions on Kafka), load (the load generators), meter (Kafka offsets, MongoDB commands, CPU
ticks before and after a phase), results (a phase's figures), runner (the phases in order),
report (what is printed and written to .run/bench/last.json).
"""

from __future__ import annotations

import sys

from stackbench.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
