# Cost Guardian container image. Build: docker compose build (or docker build -t cost-guardian .)
# The compilers and devDependencies stay in the build stages; the runtime stage has only dist/,
# production node_modules, tini, and a non-root user. Dependencies and code are built apart, so a
# change to the code alone rebuilds (and ships) only dist/.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
# better-sqlite3 downloads a prebuilt binary; the compilers are the fallback when none matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# npm ci needs every workspace's manifest (the client library in packages/).
COPY packages/client/package.json packages/client/
# npm's own registry unless given: docker build --build-arg npm_config_registry=<url> for a mirror.
ARG npm_config_registry
RUN npm ci

# What the service loads: production dependencies without the workspace link (packages/ is not in
# the runtime stage), and better-sqlite3's addon without the SQLite sources and object files it may
# have been compiled from (about 25 MB).
FROM deps AS production-deps
RUN npm prune --omit=dev --workspaces=false \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/

# No source maps in the image: src/ is not there for them to point at.
FROM deps AS build
COPY . .
RUN npm run build && find dist -name '*.map' -delete

FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# IN_CONTAINER: configuration errors say what to set in .env, and `serve` stays up answering 503
# instead of exiting into a restart loop (src/cli/serve.ts).
ENV NODE_ENV=production \
    ENV=production \
    IN_CONTAINER=true \
    HOST=0.0.0.0 \
    SERVER_PORT=5001 \
    DATA_DIR=/app/data
WORKDIR /app
RUN mkdir -p /app/data && chown node:node /app/data
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=production-deps /app/package.json ./package.json
COPY --from=build /app/dist ./dist
USER node
VOLUME ["/app/data"]
EXPOSE 5001
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SERVER_PORT||5001)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini is PID 1: it forwards SIGTERM to node (which drains and closes the database) and reaps zombies.
# Any CLI command runs the same way: docker compose run --rm api tokens list
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/cli.js"]
CMD ["serve"]
