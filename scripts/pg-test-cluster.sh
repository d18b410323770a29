#!/usr/bin/env bash
# Throw-away PostgreSQL cluster for tests.
#
#   scripts/pg-test-cluster.sh start <dir>   # prints the connection URL on stdout
#   scripts/pg-test-cluster.sh stop  <dir>   # stops the server (safe to call twice)
#
# The cluster listens on 127.0.0.1 only, on a free port, with trust auth and
# durability switched off for speed. Everything (data, socket, log) lives under
# <dir>, so removing <dir> after `stop` leaves nothing behind.
#
# Uses the Debian server binaries under /usr/lib/postgresql/<ver>/bin
# explicitly: other pg_ctl/initdb copies on PATH may be of any version.
set -euo pipefail

DB_NAME=keygate_test
DB_USER=postgres

log() { echo "pg-test-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

usage() { die "usage: $0 start|stop <dir>"; }

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2

# Newest installed server version that has binaries.
find_bindir() {
  local v best=""
  for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -V); do
    [[ -x /usr/lib/postgresql/$v/bin/initdb ]] && best=/usr/lib/postgresql/$v/bin
  done
  [[ -n $best ]] || die "no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)"
  echo "$best"
}

# initdb/postgres refuse to run as root, so as root run them as the `postgres`
# system user (created by the Debian package); otherwise as ourselves.
as_owner() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# True if something already accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local bindir port url started=""
  bindir=$(find_bindir)

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ ! -e $dir/data ]] || die "$dir/data already exists; stop and remove $dir first"
  if [[ $EUID -eq 0 ]]; then
    id -u postgres >/dev/null 2>&1 || die "system user 'postgres' is missing (it comes with the postgresql package)"
    chown postgres: "$dir"
  fi
  chmod 700 "$dir"
  mkdir -p "$dir/sock"
  [[ $EUID -ne 0 ]] || chown postgres: "$dir/sock"

  # The `postgres` user may not be able to read the caller's cwd.
  cd /

  log "initdb ($bindir) in $dir/data"
  as_owner "$bindir/initdb" -D "$dir/data" -U "$DB_USER" \
    --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }

  # Test-only settings: room for several app replicas plus pools, and no
  # durability (the data is thrown away anyway).
  cat >>"$dir/data/postgresql.conf" <<EOF

# --- pg-test-cluster.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

  # Pick a pseudo-random high port so parallel runs rarely collide; skip
  # ports already taken and retry if the bind still loses a race.
  port=$((20000 + RANDOM % 40000))
  for _ in $(seq 1 20); do
    port=$((port + 1))
    port_in_use "$port" && continue
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" \
      -o "-p $port" -w -t 60 start >/dev/null; then
      started=1
      break
    fi
    if ! grep -q 'could not bind\|could not create listen socket' "$dir/postgres.log" 2>/dev/null; then
      tail -n 30 "$dir/postgres.log" >&2 || true
      die "postgres failed to start"
    fi
    log "port $port busy, trying another"
  done
  [[ -n $started ]] || die "no free port found"
  echo "$port" >"$dir/port"

  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME" ||
    die "createdb failed"

  url="postgres://$DB_USER@127.0.0.1:$port/$DB_NAME?sslmode=disable"
  echo "$url" >"$dir/url"
  log "running on 127.0.0.1:$port (log: $dir/postgres.log)"
  echo "$url"
}

stop() {
  local bindir
  [[ -f $dir/data/postmaster.pid ]] || return 0 # not running
  bindir=$(find_bindir)
  cd /
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  log "stopped"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
