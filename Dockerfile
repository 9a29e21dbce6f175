# The relay, built and run without dev dependencies, as a non-root user.
#
#   docker build --network host -t koogallery-relay .
#
# NODE_IMAGE picks the base (default the official node:20-bookworm-slim). Where Docker Hub cannot
# be reached, `npm run image:base` makes a local stand-in under that tag (docs/production.md).
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Compile: every dependency, then tsc (the sandbox, demo and kit are kept out by .dockerignore).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. The production dependencies only, without npm's cache.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. What runs: owned by root, so the process (uid 1000) cannot change its own code.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY views ./views
USER node
EXPOSE 3000
# Liveness on the probes' port: OPS_PORT when set (served on OPS_HOST, loopback by default), else PORT.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OPS_PORT||process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself (drains, closes the store, exits 0 within 25 s;
# give `docker stop -t 30` / compose stop_grace_period: 30s). The same command as `npm start`
# (test/ops/start-command.test.ts checks it); why the memory reducer is off: docs/production.md.
STOPSIGNAL SIGTERM
CMD ["node", "--no-memory-reducer", "dist/main.js"]
