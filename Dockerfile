# phonehome: sensor and collector in one image (the command picks the role).
#   docker build -t phonehome:0.1.0 .
#   docker run --rm -v "$PWD/captures:/captures:ro" phonehome:0.1.0 analyze /captures
# docker-compose.yml runs a collector, a sensor, Prometheus, Alertmanager and Grafana from it.

# Both stages use the same pinned base: better-sqlite3's native module is built
# (or its prebuilt binary chosen) for this Node ABI and glibc.
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Only needed when better-sqlite3 has no prebuilt binary for the platform and compiles from source.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/phonehome
# The lock file first, so that editing the sources does not invalidate the dependency layer.
# Scripts are off because prepare (the build) needs the sources, copied later;
# better-sqlite3's install script (prebuilt binary, else node-gyp) then runs alone,
# in the foreground so the build log shows what it fetched or compiled.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 --foreground-scripts
COPY tsconfig.json ./
# The build packs the shipped settings (rules/) for a faster start; the image copies the same files below.
COPY rules rules
COPY contract contract
COPY sensor sensor
COPY collector collector
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && chmod 755 dist/sensor/cli.js

FROM ${NODE_IMAGE}
# tcpdump for live capture (tcpdump -U -w - | phonehome sensor --input -). It gets
# the capture capabilities as file capabilities, so the unprivileged user can
# capture in a container started with cap_add NET_RAW/NET_ADMIN; setcap is not kept.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tcpdump libcap2-bin \
 && setcap cap_net_raw,cap_net_admin=eip "$(command -v tcpdump)" \
 && apt-get purge -y libcap2-bin \
 && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/phonehome
# package.json and rules/ are how the code finds its root (shipped profiles, detections, version).
COPY --from=build /opt/phonehome/package.json ./
COPY --from=build /opt/phonehome/node_modules node_modules
COPY --from=build /opt/phonehome/dist dist
COPY rules rules
# /data holds the collector's database or a sensor's spool; created here so a
# fresh named volume mounted on it belongs to the unprivileged user.
RUN ln -s /opt/phonehome/dist/sensor/cli.js /usr/local/bin/phonehome \
 && mkdir -p /data \
 && chown node:node /data
USER node
ENV NODE_ENV=production
EXPOSE 8080 9101
ENTRYPOINT ["node", "/opt/phonehome/dist/sensor/cli.js"]
CMD ["--help"]
