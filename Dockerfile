# The evpnd image the containerlab files name (ghcr.io/evpnd/evpnd:latest). Not published:
# build it locally before `containerlab deploy`, from the repository root:
#
#   docker build -t ghcr.io/evpnd/evpnd:latest .
#
# The container runs evpnd in the foreground with the config the lab binds to
# /etc/evpnd/evpnd.toml; `docker exec <node> evpnctl show routes` talks to it over the
# default control socket. evpnd watches links, so the VXLAN devices and bridges that the
# lab's `exec` commands create after the container starts are picked up when they appear.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p evpnd --bins

FROM debian:bookworm-slim
# iproute2 for the labs' exec commands (ip, bridge), the rest for looking around in a node.
RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 iputils-ping tcpdump procps \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/evpnd /src/target/release/evpnctl /usr/local/bin/
ENTRYPOINT ["evpnd", "--config", "/etc/evpnd/evpnd.toml"]
