#!/usr/bin/env bash
# Builds the installable Debian packages:
#   daftar-sync_<version>_amd64.deb  the sync server, its systemd unit, /etc/daftar-sync/config.toml
#   Daftar_<version>_amd64.deb       the desktop app (tauri bundle)
#
#   scripts/package.sh                      release build; packages in dist/
#   scripts/package.sh --debug --out DIR    from the test build (the package test uses this)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug ;;
    --out) out=${2:?a folder}; shift ;;
    *) echo "usage: $0 [--debug] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/daftar/target}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ "$profile" = release ]; then
  bash scripts/deps.sh
  (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
  cargo build --release --workspace --features daftar-desktop/custom-protocol
fi
bin="$CARGO_TARGET_DIR/$profile"
for b in daftar-sync daftar-desktop; do
  [ -x "$bin/$b" ] || { echo "$bin/$b is missing: build first (scripts/build.sh)" >&2; exit 1; }
done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)

echo "==> daftar-sync_${version}_${arch}.deb"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -D -m 0755 "$bin/daftar-sync" "$stage/usr/bin/daftar-sync"
install -D -m 0644 packaging/daftar-sync/daftar-sync.service "$stage/lib/systemd/system/daftar-sync.service"
install -D -m 0640 packaging/daftar-sync/config.toml "$stage/etc/daftar-sync/config.toml"
install -D -m 0644 docs/operations.md "$stage/usr/share/doc/daftar-sync/operations.md"
mkdir -p "$stage/DEBIAN"
for s in postinst prerm postrm; do install -m 0755 "packaging/daftar-sync/$s" "$stage/DEBIAN/$s"; done
echo /etc/daftar-sync/config.toml > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: daftar-sync
Version: $version
Architecture: $arch
Maintainer: Daftar <daftar@localhost>
Section: net
Priority: optional
Depends: adduser, libc6
Recommends: nginx-light | nginx
Suggests: postgresql
Installed-Size: $(du -sk "$stage/usr" | cut -f1)
Description: Daftar sync server for university journals
 Stores and exchanges the automerge changes of Daftar's offline-first journals and enforces
 every rule of who may write what. SQLite by default; several instances behind a load
 balancer on one PostgreSQL database to scale out.
CONTROL
dpkg-deb --root-owner-group --build "$stage" "$out/daftar-sync_${version}_${arch}.deb" >/dev/null

echo "==> the desktop app"
flag=()
[ "$profile" = debug ] && flag=(--debug)
(cd src-tauri && ../ui/node_modules/.bin/tauri bundle "${flag[@]}" --bundles deb --ci \
  -c '{"bundle":{"active":true}}' >/dev/null)
cp "$bin/bundle/deb/"*"_${version}_${arch}.deb" "$out/"
ls -1 "$out"/*.deb
