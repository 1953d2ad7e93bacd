#!/usr/bin/env bash
# Installs what Daftar needs on Debian 12 (run as root): build libraries for Tauri/WebKitGTK,
# and with --test the packages the test suite drives (Xvfb, WebKitWebDriver, a real keyring,
# PostgreSQL and nginx for the scale-out tests).
set -euo pipefail
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

pkgs=(libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
      libssl-dev build-essential pkg-config file)
if [ "$want_test" = 1 ]; then
  pkgs+=(xvfb xauth imagemagick webkit2gtk-driver dbus dbus-x11 gnome-keyring keyutils at-spi2-core
         fonts-dejavu-core xdotool poppler-utils postgresql nginx-light)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo (Rust 1.88+) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "Node.js 20 with npm is required" >&2; exit 1; }
if [ "$want_test" = 1 ] && ! command -v cargo-fuzz >/dev/null; then
  echo "==> installing cargo-fuzz (the fuzz smoke runs)"
  cargo install cargo-fuzz --version '^0.13' --locked --quiet
fi
