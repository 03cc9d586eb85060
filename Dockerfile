FROM node:20.19.5-bookworm-slim
WORKDIR /opt/phonehome
COPY package.json package-lock.json tsconfig.json ./
COPY contract contract
COPY sensor sensor
COPY rules rules
# npm ci runs the TypeScript build (prepare); dev dependencies are dropped afterwards.
RUN npm ci && npm prune --omit=dev && npm cache clean --force
ENTRYPOINT ["node", "dist/sensor/cli.js"]
