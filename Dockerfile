# syntax=docker/dockerfile:1
# mlc in a container: one compiled binary on a slim base, running as a non-root user, data in
# the /data volume.
#
#   docker build --build-arg MLC_COMMIT=$(git rev-parse --short HEAD) -t mlc .
#   docker run -d --name mlc -p 8080:8080 -v mlc-data:/data mlc
#   docker exec mlc mlc token create --site 1 --scopes read,write
#
# Settings are MLC_* environment variables (`docker run --rm mlc --help` lists them).

# Build stage: npm installs the pinned toolchain (Bun comes as a dev dependency), Bun compiles.
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The clients/ts workspace (the TypeScript client's generator and its TypeScript 5) is part of the install.
COPY clients/ts/package.json clients/ts/
RUN npm ci --no-audit --no-fund
COPY . .
ARG MLC_COMMIT=unknown
RUN npm run build -- --commit "$MLC_COMMIT" && ./dist/mlc version

# Run stage: glibc and CA certificates (webhooks to https URLs), nothing else.
FROM debian:bookworm-slim AS run
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mlc \
 && useradd --system --uid 10001 --gid mlc --home-dir /data --no-create-home --shell /usr/sbin/nologin mlc \
 && mkdir -p /data \
 && chown mlc:mlc /data \
 && chmod 0700 /data
COPY --from=build /src/dist/mlc /usr/local/bin/mlc
ENV MLC_DATA_DIR=/data \
    MLC_HOST=0.0.0.0 \
    MLC_PORT=8080
VOLUME ["/data"]
EXPOSE 8080
USER 10001:10001
# SIGTERM: mlc finishes requests in flight, hands back webhook claims, flushes, exits within 10 s.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/mlc", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mlc"]
CMD ["serve"]
