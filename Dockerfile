# One image for both roles; ROLE=api or ROLE=worker picks what a container runs.
# Build stage: compile TypeScript with the dev dependencies; the runtime image has neither.
# Node 26 is the active LTS line (Node 20 reached its end of life in April 2026); the code is
# kept working on Node 20 through 24 as well (package.json engines), which is what CI runs.
FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:26-slim
WORKDIR /app
ENV NODE_ENV=production HEAP_LIMIT_MB=512
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
USER node
# 3000: the API (ROLE=api or all); 9464: /metrics and the probes of a ROLE=worker process (METRICS_PORT).
EXPOSE 3000 9464
# Liveness on whichever port the role listens on.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD node -e "const e=process.env,p=e.ROLE==='worker'?(e.METRICS_PORT||9464):(e.PORT||3000);fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# Shell form: HEAP_LIMIT_MB can be changed per container.
CMD exec node --enable-source-maps --max-old-space-size="$HEAP_LIMIT_MB" dist/main.js
