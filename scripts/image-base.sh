#!/usr/bin/env bash
# `npm run image:base [-- <tag>]`: makes sure the Dockerfile's base image exists locally.
#
# The tag is the first argument, else NODE_IMAGE, else node:20-bookworm-slim (the Dockerfile's
# default). When it is already present nothing is done; when it can be pulled it is pulled. When
# it cannot (no Docker Hub, as on an offline build machine), a stand-in is made and imported under
# that tag:
#   - Debian bookworm, `debootstrap --variant=minbase`, from the mirror apt is configured with;
#   - this machine's own `node` binary and npm (so Node 20 is required here), and its CA bundle,
#     which npm is configured to trust (/usr/local/etc/npmrc), as this machine's npm does;
#   - a `node` user and group with uid/gid 1000, as in the official image;
#   - labelled koogallery-relay.base=stand-in, so `docker image inspect` tells it from the real one.
# It is cached as that image: the next run finds it and returns at once. `docker rmi <tag>` to
# make it again (e.g. after upgrading Node). Needs root (debootstrap, chroot) and a running dockerd.
set -euo pipefail

image="${1:-${NODE_IMAGE:-node:20-bookworm-slim}}"
say() { echo "image:base: $*"; }

if ! command -v docker >/dev/null 2>&1; then
  say "docker is not installed (apt-get install docker.io)"
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  say "the Docker daemon does not answer (start it: dockerd --bridge=none --iptables=false &)"
  exit 1
fi
if docker image inspect "$image" >/dev/null 2>&1; then
  say "$image is present ($(docker image inspect -f '{{index .Config.Labels "koogallery-relay.base"}}' "$image" 2>/dev/null | sed 's/^$/pulled/;s/<no value>/pulled/'))"
  exit 0
fi
if [ -z "${IMAGE_BASE_NO_PULL:-}" ] && timeout 120 docker pull "$image" >/dev/null 2>&1; then
  say "pulled $image"
  exit 0
fi
say "$image cannot be pulled: making a local stand-in (Debian bookworm minbase + this machine's Node $(node -v))"

if [ "$(id -u)" != 0 ]; then
  say "making the stand-in needs root (debootstrap, chroot)"
  exit 1
fi
node_bin="$(readlink -f "$(command -v node)")"
case "$("$node_bin" -v)" in
v20.*) ;;
*)
  say "this machine's node is $("$node_bin" -v), not Node 20: the stand-in would not match the Dockerfile"
  exit 1
  ;;
esac
npm_dir="$(dirname "$(dirname "$node_bin")")/lib/node_modules/npm"
[ -f "$npm_dir/bin/npm-cli.js" ] || npm_dir="$(npm root -g)/npm"
[ -f "$npm_dir/bin/npm-cli.js" ] || {
  say "cannot find npm's install directory"
  exit 1
}
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || {
  say "no CA bundle at $ca_bundle (apt-get install ca-certificates)"
  exit 1
}

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null; }
fi

# The Debian mirror apt already uses (deb822 .sources or one-line sources.list), not -security.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(
    {
      grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
      grep -h -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; break}}'
    } | grep -E '/debian/?$' | head -n1 || true
  )"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

root="$(mktemp -d /tmp/node-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
say "debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
started=$SECONDS
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -n 20 "$root.log"
  say "debootstrap failed (log: $root.log)"
  exit 1
}
rm -f "$root.log"

# Node and npm where the official image has them, and npx/npm on the PATH.
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
mkdir -p "$root/etc/ssl/certs"
cp "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
# npm trusts that bundle (this machine's, with any local CA its network needs to reach the
# registry), as this machine's npm does; only npm reads this file, the relay never does.
mkdir -p "$root/usr/local/etc"
printf "cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\n" >"$root/usr/local/etc/npmrc"

chroot "$root" /usr/sbin/groupadd --gid 1000 node
chroot "$root" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$root" /usr/local/bin/node -e 'process.exit(process.version.startsWith("v20.") ? 0 : 1)' || {
  say "node does not run inside the stand-in (missing libraries?)"
  exit 1
}

# What the official slim image leaves out too: apt's caches and lists, documentation, man pages.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/* \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/tmp/*

tar -C "$root" --numeric-owner -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$("$node_bin" -v | sed 's/^v//')" \
    --change 'LABEL koogallery-relay.base=stand-in' \
    --change 'CMD ["node"]' \
    - "$image" >/dev/null
say "imported $image in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
