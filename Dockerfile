# One image for every Berth service of docker-compose.yml: ingest, the advisor and the agent.
# The service's command picks which (`berth ingest`, `berth advisor`, `berth agent start`);
# settings come from environment variables only (docs/configuration.md, docs/deploy.md).
FROM node:20-bookworm-slim

# What the agent's platforms need: the Debian packages of scripts/setup.sh but the two
# servers, which run in containers of their own, and openssl, with which the nats-config
# service makes the fleet's certificates. The package lists stay: the agent builds its guest
# image with `apt-get download linux-image-amd64` on first use.
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    ca-certificates openssl runc crun docker.io podman lxc qemu-system-x86 busybox-static cpio \
    xz-utils libvirt-clients libvirt-daemon-system \
  && rm -rf /var/cache/apt/archives/*.deb

WORKDIR /opt/berth
# `npm install --no-save` rather than `npm ci`, as in scripts/setup.sh: the lock file cannot
# list the optional platform packages of chdb that the registry lacks, and `npm ci` refuses it.
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund --no-save --loglevel=error
COPY . .
# Where the nats-config service writes the NATS configuration and seeds: a volume mounted here
# starts with this folder's owner and mode, so the services running as node read their seeds.
RUN mkdir -m 0700 /nats-config && chown node:node /nats-config

ENTRYPOINT ["node", "bin/berth.js"]
CMD ["--help"]
