"""`make up`'s last step: a demo tenant with an API key, an active example workflow and a chat
widget.

Idempotent: the tenant, workflow and widget are remembered in .run/demo.json and reused while the
database still has them. Prints the curl that triggers the workflow, where to see the result, and
the chat page (the widget embedded in a page of the gateway's) to try it in a browser.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
STATE = HERE.parents[1] / ".run" / "demo.json"
GATEWAY = f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8080')}"
PROMETHEUS = f"http://127.0.0.1:{os.environ.get('PROMETHEUS_PORT', '9090')}"
ADMIN_TOKEN = os.environ.get("GATEWAY_ADMIN_TOKEN", "dev-admin-token")


def demo_state(http: httpx.Client) -> dict[str, str]:
    if STATE.exists():
        state = json.loads(STATE.read_text())
        auth = {"Authorization": f"Bearer {state['api_key']}"}
        if http.get(f"/v1/workflows/{state['workflow_id']}", headers=auth).status_code == 200:
            return dict(state)
    tenant = http.post(
        "/v1/tenants", json={"name": "Demo support team"}, headers={"X-Admin-Token": ADMIN_TOKEN}
    )
    tenant.raise_for_status()
    api_key = tenant.json()["api_key"]
    auth = {"Authorization": f"Bearer {api_key}"}
    workflow = json.loads((HERE / "demo" / "welcome-workflow.json").read_text())
    saved = http.post("/v1/workflows", json=workflow, headers=auth)
    if saved.status_code != 201:
        sys.exit(f"demo workflow refused: {saved.status_code} {saved.text}")
    workflow_id = saved.json()["id"]
    http.post(f"/v1/workflows/{workflow_id}/activate", headers=auth).raise_for_status()
    state = {
        "tenant_id": tenant.json()["tenant_id"],
        "api_key": api_key,
        "workflow_id": workflow_id,
    }
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state, indent=2))
    return state


def demo_widget(http: httpx.Client, state: dict[str, str]) -> str | None:
    """The demo tenant's chat widget (made once, remembered in the state); None when the
    gateway cannot make one (no key-encryption key: it answers 503)."""
    auth = {"Authorization": f"Bearer {state['api_key']}"}
    known = state.get("widget_key")
    if known and http.get(f"/v1/channels/widgets/{known}", headers=auth).status_code == 200:
        return known
    port = GATEWAY.rsplit(":", 1)[1]
    spec = {"name": "Demo chat", "allowed_origins": [f"http://localhost:{port}"]}
    created = http.post("/v1/channels/widgets", json=spec, headers=auth)
    if created.status_code != 201:
        print(f"demo: no chat widget ({created.status_code} {created.text})", file=sys.stderr)
        return None
    state["widget_key"] = created.json()["widget_key"]  # its secret is not kept: not needed
    STATE.write_text(json.dumps(state, indent=2))
    return state["widget_key"]


def main() -> None:
    with httpx.Client(base_url=GATEWAY, timeout=30) as http:
        state = demo_state(http)
        widget_key = demo_widget(http, state)
    body = json.dumps(
        {
            "conversation_id": "demo-conversation",
            "channel": "chat",
            "payload": {"text": "my order has not arrived"},
            "customer": {"id": "cus_1", "name": "Ada"},
        }
    )
    key = state["api_key"]
    print(f"""
ConnectFlo is up. Demo tenant {state["tenant_id"]}, workflow {state["workflow_id"]} (active).

Trigger it:
  curl -s -X POST {GATEWAY}/v1/events/incoming_message \\
    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\
    -d '{body}'

The answer holds executions_url; see the executions of the workflow (newest first):
  curl -s -H 'Authorization: Bearer {key}' \\
    '{GATEWAY}/v1/executions?workflow_id={state["workflow_id"]}'
and one execution with its node timeline:
  curl -s -H 'Authorization: Bearer {key}' {GATEWAY}/v1/executions/<id>
""")
    if widget_key:
        print(f"""Or chat with it in a browser (the chat widget, its replies streamed back):
  {GATEWAY}/widget/demo?key={widget_key}
""")
    print(f"""Metrics: Prometheus at {PROMETHEUS} (targets: {PROMETHEUS}/targets, alerts:
  {PROMETHEUS}/alerts); Grafana dashboards to import: deploy/grafana/*.json
""")


if __name__ == "__main__":
    main()
