# syntax=docker/dockerfile:1
# One image for every Tradestack service; the command chooses which: `tradestack serve <service>`
# (docker-compose.yml and the ECS task definitions pass `serve <name>`).

# --- build: a virtual environment with the project and its dependencies -----------------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
# Dependencies first, from the lock (exact versions and hashes, the same set `make` installs),
# so a change of code alone reuses this layer.
COPY requirements/build.lock requirements/runtime.lock ./requirements/
RUN pip install --require-hashes --no-deps -r requirements/build.lock \
    && pip install --require-hashes --no-deps -r requirements/runtime.lock \
    && pip check
COPY pyproject.toml README.md ./
COPY services ./services
# Editable: the package stays at /app/services, next to /app/web, where the gateway looks for it.
RUN pip install --no-deps --no-build-isolation --editable . \
    && pip uninstall --yes pip setuptools \
    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# --- runtime: no compiler, no pip, not root ---------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime

RUN groupadd --system --gid 10001 tradestack \
    && useradd --system --uid 10001 --gid tradestack --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin tradestack \
    && pip uninstall --yes pip setuptools

COPY --from=build /opt/venv /opt/venv
COPY services /app/services
COPY web /app/web

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TRADESTACK_LOG_FORMAT=json

WORKDIR /app
USER 10001:10001
EXPOSE 8000-8007

# Liveness of whichever service runs here (every service serves /healthz on TRADESTACK_PORT).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('TRADESTACK_PORT', '8000') + '/healthz', timeout=3)"]

ENTRYPOINT ["tradestack"]
CMD ["serve", "gateway"]
