# One image for every TradeSage process; docker-compose.yml picks the bundle per service
# (`node --import ./dist/telemetry.js dist/<name>.js`, the way `make prod` runs them natively). The
# build stage bundles the sources (scripts/build.ts); the runtime stage takes dist/.
FROM node:20-bookworm-slim AS deps

# openssh-client: ssh-keygen for the setup one-shot and SFTP tooling for MA130 backups;
# postgresql-client (15, like the database): pg_dump for tenant backups, psql for `make db-shell`.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates openssh-client postgresql-client \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so source changes do not reinstall them. Dev dependencies are included on
# purpose: operator scripts (`make health`, `make ma130-check` against compose) run through tsx.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --include=dev --no-audit --no-fund && npm cache clean --force

FROM deps AS build
COPY --chown=node:node . .
RUN node --import tsx scripts/build.ts --force
# The web desk, built to static files the gateway serves at / (no CDN at run time).
RUN node node_modules/vite/bin/vite.js build --config web/vite.config.ts --logLevel warn

FROM deps
COPY --chown=node:node . .
# The bundles read schemas, migrations and templates from the sources beside them (PROJECT_ROOT).
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/web/dist ./web/dist
# Mount points of the keys volume and of data; created here so the volumes belong to `node`.
RUN mkdir -p keys data

# NODE_OPTIONS: the Node flags of every platform process (SERVICE_NODE_FLAGS in scripts/platform.ts).
ENV NODE_ENV=production \
    BIND_HOST=0.0.0.0 \
    NODE_OPTIONS=--max-semi-space-size=32
EXPOSE 8000 8001 8002 8003 8103
CMD ["node", "--import", "./dist/telemetry.js", "dist/gateway.js"]
