"""`make bench`: the whole system under load, measured from the outside.

    make bench                          # full: a few minutes
    make bench BENCH_ARGS=--quick       # about a minute
    .venv/bin/python bench/stack.py --help

What runs: Kafka and FerretDB through `deploy/local/infra.sh start` (only the ones that were not
running are stopped at the end), the five services as processes on their own ports (28080-28084,
`BENCH_PORT_BASE`), consumer groups `connectflo-<service>-bench` and a fresh database, so a
`make up` stack's data and offsets are left alone (its executor and notifier would consume our
messages on the shared topics, so the bench refuses to run beside one unless --allow-shared).
The machine-wide lock /tmp/connectflo-e2e.lock is held for the whole run, as the end-to-end tests
do, so two runs never measure each other.

The workload: a tenant, the 4-node workflow trigger -> Condition -> Set Variable -> Send Reply
(the reply delivered by the notifier on the chat channel), HTTP triggers into the gateway
(`POST /v1/events/incoming_message`, one conversation per trigger), completion observed on
`connectflo.executions.v1` (ExecutionCompleted) by a plain consumer assigned to every partition.
A trigger maps to its execution by the executor's deterministic id
(`exe_` + sha256(f"{trigger_id}|{workflow_id}")[:24]), checked against the history API once.

Phases, each measured separately:
  idle      sequential triggers, one at a time: the latency of one execution on a quiet system
  open R/s  open loop: triggers sent on a fixed schedule whatever happens to the earlier ones;
            latency = completion - scheduled send time (no coordinated omission)
  closed N  N clients, each sends a trigger and waits for its completion, then the next:
            throughput at saturation; nothing is left behind by construction
  sustain   open loop at the best closed-loop rate: do completions keep up for the whole phase?

Per phase: completions/s, latency percentiles, not completed within --timeout, MongoDB commands
per workflow and per node (at the server: FerretDB's serverStatus counters, idle background
subtracted; and per service: a pymongo CommandListener injected by bench/service_hook.py),
Kafka messages per workflow (end offsets of every connectflo.* topic before and after), and
CPU per process (utime+stime from /proc/<pid>/stat) as % of one core and ms per workflow.
"""
