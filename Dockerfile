# syntax=docker/dockerfile:1
# The inference service image (`docker build -t ai-lab-2-2-paid:v1 .`, Step 4 of the guide).
# Node's major version equals .nvmrc; the tag is pinned to a release so rebuilds are reproducible.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# 1. Compile TypeScript with the dev dependencies.
FROM ${NODE_IMAGE} AS build
# onnxruntime-node's install script only downloads optional CUDA files; package.json's allowScripts denies it for
# npm 11, and this skips it for any other client. The CPU runtime ships inside the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only, with onnxruntime-node's binaries for this image's platform and architecture
#    alone (it ships darwin, linux and win32 for x64 and arm64): 368 MB of node_modules become 125 MB on linux/x64 (docs/MODELS.md).
FROM ${NODE_IMAGE} AS deps
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
 && ort=node_modules/onnxruntime-node/bin \
 && find "$ort" -mindepth 2 -maxdepth 2 ! -name "$(node -p process.platform)" -exec rm -rf {} + \
 && find "$ort" -mindepth 3 -maxdepth 3 ! -name "$(node -p process.arch)" -exec rm -rf {} + \
 && test -f "$ort"/napi-v*/"$(node -p process.platform)"/"$(node -p process.arch)"/onnxruntime_binding.node

# 3. Runtime: production node_modules + dist/ + the model repository, nothing else (no sources, no compiler, no .env).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    API_HOST=0.0.0.0 \
    API_PORT=9000
WORKDIR /app
# package.json is needed at run time: its "type": "module" makes dist/*.js ES modules.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The committed model repository: the default when neither MODEL_PATH nor MODEL_REPOSITORY is set.
COPY models ./models
# Files stay owned by root and read-only to the service. Numeric uid:gid (the image's `node` user) so the
# kubelet's runAsNonRoot check can verify it without reading /etc/passwd.
USER 1000:1000
EXPOSE 9000
# Exactly `npm start` (package.json), without npm in between so SIGTERM reaches node as PID 1.
CMD ["node", "--max-semi-space-size=8", "--import", "./dist/telemetry/instrumentation.js", "dist/service/main.js"]
