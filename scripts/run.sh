#!/usr/bin/env bash
# Sets everything up and runs Daftar: a local daftar-sync on its embedded SQLite file with demo
# users, a demo faculty's journals, and the desktop app (signed out, working offline on the
# demo data until you sign in). Data lives in $DAFTAR_HOME (default ~/.local/share/daftar-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/daftar/target}"
bin="$CARGO_TARGET_DIR/debug"
home="${DAFTAR_HOME:-${HOME:-/root}/.local/share/daftar-demo}"
server_db="$home/server.db"
listen="${DAFTAR_LISTEN:-127.0.0.1:8787}"
mkdir -p "$home"

if [ ! -d "$home/admin" ]; then
  echo "==> generating demo data (one department: 12 groups, 84 journals)"
  "$bin/daftar" --data-dir "$home/admin" init --university demo --user admin
  "$bin/daftar" --data-dir "$home/admin" demo --tier S --seed 1
fi
first=$("$bin/daftar" --data-dir "$home/admin" --json journals | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
teacher_id=$("$bin/daftar" --data-dir "$home/admin" --json show "$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["teachers"][0])')

if ! "$bin/daftar-sync" --database "$server_db" user list --json 2>/dev/null | grep -q '"admin"'; then
  echo "==> creating demo users"
  printf 'admin123\n' | "$bin/daftar-sync" --database "$server_db" user add admin --role admin
  printf 'dekanat123\n' | "$bin/daftar-sync" --database "$server_db" user add dekanat --role dean --scope f1
  printf 'teacher123\n' | "$bin/daftar-sync" --database "$server_db" user add teacher --role teacher --employee "$teacher_id"
fi

echo "==> starting daftar-sync on http://$listen"
"$bin/daftar-sync" --database "$server_db" serve --listen "$listen" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://$listen/healthz')" 2>/dev/null && break
  sleep 0.2
done

echo "==> uploading the demo data as admin"
login=$(DAFTAR_PASSWORD=admin123 "$bin/daftar" --data-dir "$home/admin" --json login --server "http://$listen" --user admin)
token=$(printf '%s' "$login" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("token") or "")')
DAFTAR_TOKEN="$token" "$bin/daftar" --data-dir "$home/admin" sync

if [ ! -d "$home/desktop" ]; then
  "$bin/daftar" --data-dir "$home/admin" bundle export "$home/demo.bundle"
  "$bin/daftar" --data-dir "$home/desktop" bundle import "$home/demo.bundle"
fi

cat <<MSG

Daftar is running.
  Sync server:  http://$listen   (database $server_db)
  Sign in from the app with one of the demo users:
    teacher  / teacher123   (teacher of journal $first)
    dekanat  / dekanat123   (dean's office of faculty f1: sees the conflict inbox)
    admin    / admin123
  The CLI works on the same replica: $bin/daftar --data-dir $home/desktop journals
MSG

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "No display found: starting the app under a virtual display (xvfb-run)."
  bash scripts/deps.sh --test
  DAFTAR_DEMO_SERVER="http://$listen" xvfb-run -a -s "-screen 0 1280x800x24" "$bin/daftar-desktop" --data-dir "$home/desktop"
else
  DAFTAR_DEMO_SERVER="http://$listen" "$bin/daftar-desktop" --data-dir "$home/desktop"
fi
