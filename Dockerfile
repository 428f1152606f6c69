# One image for every TradeSage process; docker-compose.yml picks the entry per service
# (`node --import tsx <entry>`, the same way `make dev` runs them natively).
FROM node:20-bookworm-slim

# openssh-client: ssh-keygen for the setup one-shot and SFTP tooling for MA130 backups;
# postgresql-client (15, like the database): pg_dump for tenant backups, psql for `make db-shell`.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates openssh-client postgresql-client \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so source changes do not reinstall them. Dev dependencies are included on
# purpose: services run TypeScript through tsx (no build step), as they do natively.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --include=dev --no-audit --no-fund && npm cache clean --force

COPY --chown=node:node . .
# The web desk, built to static files the gateway serves at / (no CDN at run time).
RUN node node_modules/vite/bin/vite.js build --config web/vite.config.ts --logLevel warn
# Mount points of the keys volume and of data; created here so the volumes belong to `node`.
RUN mkdir -p keys data

# NODE_OPTIONS: the Node flags of every platform process (SERVICE_NODE_FLAGS in scripts/platform.ts).
ENV NODE_ENV=production \
    BIND_HOST=0.0.0.0 \
    NODE_OPTIONS=--max-semi-space-size=32
EXPOSE 8000 8001 8002 8003 8103
CMD ["node", "--import", "tsx", "gateway/src/index.ts"]
