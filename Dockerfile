# mcp-index: one image for every role (worker, `up` supervisor, coordinator, queries, MCP server).
#
#   docker build -t mcp-index:local .
#   docker run --rm -v "$PWD:/repo:ro" -v mcp-index-data:/data mcp-index:local /repo --out /data/index.db
#
# See docker-compose.distributed.yml for a Redis cluster with workers, and Prometheus + Grafana.

# --- build: native modules (tree-sitter grammars, better-sqlite3) and dist/ -------------------------------------
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
# `npm ci` compiles the native modules and, through the `prepare` script, TypeScript into dist/.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
# git: discovery follows `git ls-files` when the repository is a checkout.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory '*'
ENV NODE_ENV=production \
    XDG_CACHE_HOME=/data/cache
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/src ./src
RUN chmod 0755 /app/bin/mcp-index.js \
 && ln -s /app/bin/mcp-index.js /usr/local/bin/mcp-index \
 && mkdir -p /data /repo \
 && chown node:node /data
# The image's unprivileged user (uid 1000); the repository is mounted read-only at /repo, indexes go to /data.
USER node
WORKDIR /data
VOLUME ["/data"]
# --metrics-port of workers, `up` and coordinators in docker-compose.distributed.yml
EXPOSE 9464
ENTRYPOINT ["mcp-index"]
CMD ["--help"]
