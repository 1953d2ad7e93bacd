#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests, owned by the `postgres` user, on loopback only:
#   scripts/pg.sh start DIR PORT   # initdb (once) and start; prints the admin URL
#   scripts/pg.sh stop DIR
# DIR's parent directories must be traversable by the postgres user.
# Nothing of a system cluster is touched. Trust authentication on 127.0.0.1 is fine for a
# throwaway test cluster; docs/operations.md sets up a real one.
set -euo pipefail
cmd=${1:?start|stop} dir=${2:?cluster directory}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    port=${3:?port}
    mkdir -p "$dir"
    # The postgres user must reach DIR: its parents need to be traversable (mktemp -d makes
    # 0700 directories, so chmod 755 those).
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$dir/data" -A trust -U daftar >/dev/null
    fi
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" start >/dev/null
    echo "postgres://daftar@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
