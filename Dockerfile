# syntax=docker/dockerfile:1
# The project's image: the coordinator by default (what `npm start` runs); docker-compose.yml runs the same
# image as anvil, the one-shot contract deployment, extra update workers and fl-client.
# linux/amd64 only: the anvil binary comes from the npm package @foundry-rs/anvil-linux-amd64.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only (tsx runs the TypeScript, so there is no compile step). Leaving out the
# dev dependencies leaves out typechain too: the contract build below then records "no bindings",
# which is what the run-time check of contracts/out sees as well, so nothing is rebuilt at start.
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# Both builds are offline: solc and circom2 are npm packages, the powers-of-tau file is committed.
# The circuit build fails if the committed verification keys or Solidity verifiers do not match it.
RUN npm run build:contracts -- --quiet && npm run build:circuits -- --quiet

# The run-time image: the built tree without npm's cache and the builds' scratch files.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app /app
# The code stays root's and read-only to the service; only the volume mount points are writable:
# /data the checkpoint store, /chain the local chain's state and addresses, /keys client keys.
RUN mkdir -p /data /chain /keys && chown node:node /data /chain /keys
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
  CMD node --import tsx scripts/healthcheck.ts http "http://127.0.0.1:${PORT}/v1/health"
# `npm start` without npm: npm exits on SIGTERM without passing it on, which would cut the
# coordinator's shutdown short (measured: its process was left running); node gets the signal itself.
CMD ["node", "--import", "tsx", "coordinator/main.ts"]
