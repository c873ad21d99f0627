# nim-reconciler: `reconcile` in a slim image with git. Build: docker build -t nim-reconciler:0.1.0 .
# Stage 1 builds the wheels (any compiler stays here); stage 2 only installs them.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
COPY schemas ./schemas
COPY templates ./templates
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# git for the source, ssh for ssh:// remotes, CA certificates for https; nothing to build with.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels nim-reconciler \
    && rm -rf /wheels
# A fixed non-root user (the manifests in deploy/ run as 10001 with a read-only root filesystem).
RUN groupadd --system --gid 10001 reconciler \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin reconciler
USER 10001:10001
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT ["reconcile"]
CMD ["--help"]
