# syntax=docker/dockerfile:1.7
# One image for the five services; a Deployment picks one by its command (`python -m executor`,
# `python -m trigger_gateway`, ...; deploy/helm/connectflo). Not built by `make test` (no Docker
# on the development machine): `docker build -t connectflo:dev .`

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# The workspace's manifests first: the dependency layer is rebuilt only when the lock changes.
# Every member's pyproject.toml must be present for uv to read the workspace.
COPY pyproject.toml uv.lock ./
COPY libs/clocks/pyproject.toml libs/clocks/
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/knowledge/pyproject.toml libs/knowledge/
COPY libs/servicekit/pyproject.toml libs/servicekit/
COPY services/executor/pyproject.toml services/executor/
COPY services/integrations/pyproject.toml services/integrations/
COPY services/notifier/pyproject.toml services/notifier/
COPY services/scheduler/pyproject.toml services/scheduler/
COPY services/trigger-gateway/pyproject.toml services/trigger-gateway/
COPY tests-e2e/pyproject.toml tests-e2e/
COPY deploy/local/sandbox/pyproject.toml deploy/local/sandbox/
ARG SERVICES="--package executor --package integrations --package notifier --package scheduler --package trigger-gateway"
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace $SERVICES
# Then the code, installed as wheels (no editable links back to /src).
COPY libs libs
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable $SERVICES

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin connectflo
COPY --from=build --chown=10001:10001 /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001
# Which service runs is the container's command; this default is the gateway.
CMD ["python", "-m", "trigger_gateway"]
