# DevSponsor appliance image: builds the single executable, then runs it on a slim Debian base.
#
#   docker build -t devsponsor .
#   docker run -p 8080:8080 -v devsponsor-data:/data devsponsor
#
# Without access to a container registry, import a Debian rootfs once and build on it:
#   debootstrap --variant=minbase bookworm rootfs http://deb.debian.org/debian
#   tar -C rootfs -c . | docker import - debian-local:bookworm
#   docker build --build-arg BASE=debian-local:bookworm -t devsponsor .
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && npm install -g bun@1.4.5 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --ignore-scripts
COPY . .
RUN bun run build

FROM ${BASE}
# git fetches repositories for the planner and the harness; ca-certificates for HTTPS to GitHub and RPC nodes.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 --create-home devsponsor \
 && mkdir -p /data && chown devsponsor /data
COPY --from=build /src/dist/devsponsor /usr/local/bin/devsponsor
USER devsponsor
ENV DEVSPONSOR_DATA_DIR=/data PORT=8080 TMPDIR=/tmp
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["devsponsor"]
CMD ["serve"]
