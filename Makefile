# TradeSage: the commands people and CI use. Everything runs natively (Node.js 20.11+, PostgreSQL 15,
# Redis 7); `make compose` is the same platform in Docker for those who have it (docs/adr/0000).
# `make` alone lists the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

TSX := node --import tsx
COMPOSE ?= docker compose
# True (exit 0) when a compose stack of this project is running; false without Docker.
COMPOSE_RUNNING := $(COMPOSE) ps --status running --quiet 2>/dev/null | grep -q .

.PHONY: help deps setup build dev prod db-init test health logs auth-logs tenant-logs db-shell compose \
	compose-down codegen check-drift migrate-tenants bench lint typecheck web format format-check \
	ma130-check cluster chaos

help: ## List the targets
	@echo 'TradeSage. `make dev` runs the platform, `make test` runs every check and test, `make cluster` runs it replicated.'
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-16s %s\n", $$1, $$2}'

deps: ## npm ci when node_modules is missing or package-lock.json changed
	@bash scripts/ensure-deps.sh

setup: deps ## Create directories and generate keys (JWT, MA130 SSH, backup key) and .env
	@$(TSX) scripts/setup.ts

build: deps ## Bundle every process and the run command's scripts into dist/ (make dev and make prod do it when stale)
	@$(TSX) scripts/build.ts --force

dev: ## Run the platform (installs, sets up, prepares the database, starts every service; Ctrl-C stops)
	@bash scripts/run.sh dev

cluster: ## The production topology on one machine: HAProxy, 2 replicas of everything, PgBouncer, Redis Sentinel, TLS (Ctrl-C stops)
	@bash scripts/run.sh cluster

chaos: deps ## The full chaos tests: kill each part of a running cluster under load (CHAOS_FULL=1; docs/reliability.md)
	@CHAOS_FULL=1 npx vitest run test/chaos.e2e.test.ts

prod: ## The same services natively with NODE_ENV=production, the web desk built first (introspection off unless INTROSPECTION=true)
	@bash scripts/run.sh prod

db-init: deps ## Create roles, database and extensions; apply platform migrations (idempotent)
	@$(TSX) scripts/setup.ts --quiet
	@$(TSX) scripts/db-init.ts

test: ## Format, lint, typecheck, drift checks, unit + integration + end-to-end tests (what CI runs)
	@bash scripts/test.sh

health: deps ## /health and /ready of every service (8000-8006, tenants worker 8103)
	@if $(COMPOSE_RUNNING); then $(COMPOSE) exec -T gateway node --import tsx scripts/health.ts --compose-network; \
	else $(TSX) scripts/health.ts; fi

ma130-check: deps ## Connect to the MA130 (key, pinned host key), write, read back and delete a probe file
	@if $(COMPOSE_RUNNING); then $(COMPOSE) exec -T tenants-worker node --import tsx scripts/ma130-check.ts; \
	else $(TSX) scripts/ma130-check.ts; fi

logs: deps ## Follow every service's log (compose logs when the compose stack runs)
	@if $(COMPOSE_RUNNING); then $(COMPOSE) logs --follow --tail=100; else $(TSX) scripts/logs.ts; fi

auth-logs: deps ## Follow the auth service's log
	@if $(COMPOSE_RUNNING); then $(COMPOSE) logs --follow --tail=100 auth; else $(TSX) scripts/logs.ts auth; fi

tenant-logs: deps ## Follow the tenants service's and the tenants worker's logs
	@if $(COMPOSE_RUNNING); then $(COMPOSE) logs --follow --tail=100 tenants tenants-worker; \
	else $(TSX) scripts/logs.ts tenants tenants-worker; fi

db-shell: deps ## psql on the platform database as the owner role
	@if $(COMPOSE_RUNNING); then $(COMPOSE) exec postgres psql -U tradesage_owner -d tradesage; \
	else $(TSX) scripts/db-shell.ts; fi

compose: ## Build and run everything in Docker (postgres, redis, services, prometheus, grafana)
	$(COMPOSE) up --build

compose-down: ## Stop the compose stack (volumes are kept; add -v by hand to drop them)
	$(COMPOSE) down

codegen: deps ## Compose schema/supergraph.graphql and regenerate resolver types
	npm run --silent codegen

check-drift: deps ## Fail when the supergraph, resolver types or migrations are out of date
	@bash scripts/check-drift.sh

migrate-tenants: db-init ## Bring every tenant schema to its template's version (TEMPLATE=name: one template)
	@$(TSX) subgraphs/tenants/src/migrate-tenants.ts $(if $(TEMPLATE),--template=$(TEMPLATE))

bench: deps ## Benchmarks (bench/; figures go to BENCHMARKS.md; not part of make test)
	@if [ -f bench/run.ts ]; then $(TSX) bench/run.ts; else echo 'bench/run.ts is not in this checkout yet' >&2; exit 1; fi

lint: deps ## ESLint with typed rules, zero warnings
	npx eslint . --max-warnings 0

typecheck: deps ## tsc --noEmit (the platform, then the web desk's own tsconfig)
	npx tsc -p . --noEmit
	npx tsc -p web --noEmit

web: deps ## Build the web desk into web/dist (the gateway serves it at /; make prod does this)
	node node_modules/vite/bin/vite.js build --config web/vite.config.ts

format: deps ## Prettier --write on everything
	npx prettier --write . --log-level warn

format-check: deps ## Prettier --check on everything
	npx prettier --check . --log-level warn
