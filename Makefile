# ConnectFlo Flow Engine. `make up` runs the system; `make test` passes the tests.
# Both install what they need on a fresh machine (deploy/local/bootstrap.sh).
SHELL := /bin/bash
export UV_CACHE_DIR := $(CURDIR)/.cache/uv
PY := $(CURDIR)/.venv/bin/python
BIN := $(CURDIR)/.venv/bin
LOCAL := deploy/local

.PHONY: help bootstrap up down status logs infra-up infra-down services-up services-down demo \
        test check lint format typecheck imports schemas schemas-check asyncapi asyncapi-check \
        catalogue catalogue-check alerts-check dashboards dashboards-check \
        unit helm-check e2e fuzz bench-engine bench bench-fairness bench-timers bench-watchdog rewrap

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

bootstrap: ## install uv, Python deps (uv.lock), and check Java/Maven/Go
	@$(LOCAL)/bootstrap.sh

up: bootstrap ## start Kafka, FerretDB, Prometheus and the five services; create a demo tenant and workflow
	@$(LOCAL)/infra.sh start
	@$(LOCAL)/services.sh start
	@$(PY) $(LOCAL)/demo.py

down: ## stop the services and the infrastructure
	@$(LOCAL)/services.sh stop
	@$(LOCAL)/infra.sh stop

status: ## what is running
	@$(LOCAL)/infra.sh status
	@$(LOCAL)/services.sh status

logs: ## tail every log (SERVICE=executor for one)
	@$(LOCAL)/services.sh logs $(SERVICE)

test: bootstrap ## lint, type check, unit and end-to-end tests on real Kafka and FerretDB
	@$(LOCAL)/run-tests.sh

check: lint typecheck imports schemas-check asyncapi-check catalogue-check dashboards-check alerts-check ## static checks only

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck:
	$(BIN)/mypy

imports: ## no service imports another service
	$(BIN)/lint-imports

rewrap: ## key rotation: move every sealed secret to the first KEK of CONNECTFLO_KEKS (ARGS=--dry-run)
	$(PY) -m servicekit.rewrap $(ARGS)

schemas: ## regenerate docs/schemas from libs/contracts
	$(PY) -m contracts.schemas docs/schemas

schemas-check:
	$(PY) -m contracts.schemas docs/schemas --check

asyncapi: ## regenerate docs/asyncapi.json (AsyncAPI 3.0.0: every topic, key, header, message) from libs/contracts
	$(PY) -m contracts.asyncapi docs/asyncapi.json

asyncapi-check:
	$(PY) -m contracts.asyncapi docs/asyncapi.json --check

catalogue: ## regenerate docs/node-catalogue.md from the node modules
	$(BIN)/connectflo catalogue --output docs/node-catalogue.md

catalogue-check:
	$(BIN)/connectflo catalogue | diff -u docs/node-catalogue.md - \
	  || (echo "docs/node-catalogue.md is stale: run make catalogue" && exit 1)

alerts-check: ## validate deploy/prometheus/alerts.yml and run its unit tests (alerts_test.yml)
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts_test.yml

dashboards: ## regenerate the Grafana dashboards in deploy/grafana from deploy/grafana/build.py
	$(PY) deploy/grafana/build.py

dashboards-check:
	$(PY) deploy/grafana/build.py --check

unit: ## unit and in-memory broker tests (no infrastructure)
	$(BIN)/pytest libs services deploy/local/sandbox -q

helm-check: bootstrap ## the Helm chart: helm lint, helm template with deploy/helm/connectflo/ci/*, tests of the manifests
	@deploy/helm/ensure-helm.sh
	@deploy/helm/check.sh

e2e: ## end-to-end tests (starts the infrastructure if it is not running)
	$(BIN)/pytest tests-e2e -q

fuzz: ## schemathesis against the running gateway (starts the infrastructure if it is not running)
	@$(LOCAL)/infra.sh start
	flock -w 3600 /tmp/connectflo-e2e.lock $(PY) tests-e2e/fuzz_api.py --workers 1

bench-engine: bootstrap ## in-process engine benchmark
	$(PY) services/executor/bench/interpreter.py

bench-fairness: bootstrap ## one tenant's 10,000 Shopify calls beside another's 5/s: the other's p99, CPU per call (~2.5 min)
	$(PY) bench/fairness.py $(BENCH_ARGS)

bench-timers: bootstrap ## 10,000 timers due in one minute, 1,000 every-minute schedules: lateness p50/p99, scheduler CPU (BENCH_ARGS=--quick: ~5 min; full ~8 min)
	$(PY) bench/timers.py $(BENCH_ARGS)

bench-watchdog: bootstrap ## the watchdog's scan time at 100,000 stored executions, in a throwaway database on the running FerretDB (BENCH_ARGS=--executions N)
	$(PY) bench/watchdog_scan.py $(BENCH_ARGS)

knowledge-eval: bootstrap ## libs/knowledge on its samples: retrieval recall@1/@3, relevance, intent and sentiment accuracy, timings (BENCH_ARGS=--json)
	$(PY) bench/knowledge_eval.py $(BENCH_ARGS)

bench: bootstrap ## the whole system under load: throughput, latency, MongoDB/Kafka per workflow, CPU (BENCH_ARGS=--quick: ~1 min)
	$(PY) bench/stack.py $(BENCH_ARGS)
