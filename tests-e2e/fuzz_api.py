"""`make fuzz`: schemathesis against the running gateway, every operation, every check.

Starts the executor, the integrations service (for "check connection") and the gateway as
processes on their own ports (19081, 19083, 19080) with a fresh database and consumer groups
(Kafka and FerretDB must be up: `deploy/local/infra.sh start`), creates a tenant, runs
schemathesis with that tenant's API key and the admin token (tests-e2e/schemathesis.toml),
stops the services and drops the database. Exit status: schemathesis'.

    .venv/bin/python tests-e2e/fuzz_api.py [extra schemathesis run options]
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
from pymongo import MongoClient
from servicekit.processes import start_service, stop_services
from servicekit.sealing import KEK_FILE_VARIABLE, KEKS_VARIABLE, dev_key_file

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / ".run" / "fuzz"
GATEWAY_PORT, EXECUTOR_PORT, INTEGRATIONS_PORT = 19080, 19081, 19083
ADMIN_TOKEN = "fuzz-admin-token"
GROUP = "connectflo-executor-fuzz"
INTEGRATIONS_GROUP = "connectflo-integrations-fuzz"
SEED = 20261201


def main() -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    mongo_uri = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
    database = "fuzz_" + secrets.token_hex(4)
    env = {
        **os.environ,
        "MONGO_DATABASE": database,
        "GATEWAY_PORT": str(GATEWAY_PORT),
        "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "GATEWAY_EXECUTOR_URL": f"http://127.0.0.1:{EXECUTOR_PORT}",
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{GATEWAY_PORT}",
        "EXECUTOR_PORT": str(EXECUTOR_PORT),
        "EXECUTOR_GROUP_ID": GROUP,
        "GATEWAY_INTEGRATIONS_URL": f"http://127.0.0.1:{INTEGRATIONS_PORT}",
        "EXECUTOR_INTEGRATIONS_URL": f"http://127.0.0.1:{INTEGRATIONS_PORT}",
        "INTEGRATIONS_PORT": str(INTEGRATIONS_PORT),
        "INTEGRATIONS_GROUP_ID": INTEGRATIONS_GROUP,
    }
    if not (env.get(KEKS_VARIABLE) or env.get(KEK_FILE_VARIABLE)):  # sealed secrets' KEK
        env[KEK_FILE_VARIABLE] = str(dev_key_file(REPO / ".run" / "dev-keks"))
    # the consumers start at the end of the shared topics, not behind what others produced
    groups = f"{GROUP},{INTEGRATIONS_GROUP}"
    topics = [sys.executable, str(REPO / "deploy/local/kafka_topics.py"), "--skip-to-end", groups]
    subprocess.run(topics, check=True, env=env)
    processes = []
    try:
        processes.append(start_service("executor", env, EXECUTOR_PORT, RUN / "executor.log"))
        processes.append(
            start_service("integrations", env, INTEGRATIONS_PORT, RUN / "integrations.log")
        )
        processes.append(
            start_service("trigger_gateway", env, GATEWAY_PORT, RUN / "trigger_gateway.log")
        )
        base = f"http://127.0.0.1:{GATEWAY_PORT}"
        tenant = httpx.post(
            f"{base}/v1/tenants", json={"name": "Fuzz"}, headers={"X-Admin-Token": ADMIN_TOKEN}
        )
        tenant.raise_for_status()
        env["FUZZ_API_KEY"] = tenant.json()["api_key"]
        env["FUZZ_ADMIN_TOKEN"] = ADMIN_TOKEN
        env["PYTHONPATH"] = str(REPO / "tests-e2e")  # the hooks module
        command = [
            str(REPO / ".venv/bin/schemathesis"),
            "--config-file",
            str(REPO / "tests-e2e/schemathesis.toml"),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--seed",
            str(SEED),
            "--max-examples",
            "100",
            *sys.argv[1:],
        ]
        print("fuzz:", " ".join(command), flush=True)
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        stop_services(processes)
        MongoClient(mongo_uri).drop_database(database)


if __name__ == "__main__":
    raise SystemExit(main())
