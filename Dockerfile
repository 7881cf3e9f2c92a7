# syntax=docker/dockerfile:1
# The inference service image (`docker build -t ai-lab-2-2-paid:v1 .`, Step 4 of the guide).
# Node's major version equals .nvmrc; the tag is pinned to a release so rebuilds are reproducible.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# 1. Compile TypeScript with the dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. Runtime: production node_modules + dist/ and nothing else (no sources, no compiler, no .env).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    API_HOST=0.0.0.0 \
    API_PORT=9000
WORKDIR /app
# package.json is needed at run time: its "type": "module" makes dist/*.js ES modules.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Files stay owned by root and read-only to the service. Numeric uid:gid (the image's `node` user) so the
# kubelet's runAsNonRoot check can verify it without reading /etc/passwd.
USER 1000:1000
EXPOSE 9000
# Exactly `npm start` (package.json), without npm in between so SIGTERM reaches node as PID 1.
CMD ["node", "--max-semi-space-size=8", "--import", "./dist/telemetry/instrumentation.js", "dist/service/main.js"]
