#!/usr/bin/env bash
# Provisions a real Oracle MySQL server (Debian sid's mysql-server-core, 9.7.x) in a debootstrap
# chroot and starts it on loopback, so that the suite can run against MySQL as well as MariaDB.
#
#   tools/servers/mysql-chroot.sh start   build the chroot if needed, start a fresh server, print env
#   tools/servers/mysql-chroot.sh stop    stop the server
#   tools/servers/mysql-chroot.sh env     print the environment lines for the running server
#
# Debian's archive carries MySQL only in sid, hence the chroot. The chroot is kept between runs
# (REMINDERLY_MYSQL_ROOT) so a second start takes seconds. The client tools of the same version
# (mysql, mysqldump) are exposed through wrapper scripts in $ROOT/host-bin: put that folder first
# on PATH for the MySQL leg, so that the toolkit finds the client matching the server.
#
# Exit codes: 0 started/stopped, 3 the chroot could not be built (archive unreachable),
# 4 the server did not start.
set -euo pipefail

ROOT=${REMINDERLY_MYSQL_ROOT:-/var/tmp/reminderly-mysql-root}
PORT=${REMINDERLY_MYSQL_PORT:-3307}
DATADIR=/var/lib/reminderly-mysql
RUN=/run/reminderly-mysql
PIDFILE=/tmp/reminderly-mysqld.host-pid
LOG=/tmp/reminderly-mysql-provision.log

say() { printf '[mysql-chroot] %s\n' "$*" >&2; }

debian_mirror() {
  # Reuse the mirror apt is already configured with (deb822 or one-line format).
  { grep -hm1 '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'
    true; } | grep -m1 '/debian/\?$' || echo "http://deb.debian.org/debian"
}

build_chroot() {
  if [ -x "$ROOT/usr/sbin/mysqld" ] && [ -x "$ROOT/usr/bin/mysqldump" ]; then
    return 0
  fi
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >>"$LOG" 2>&1 \
      || { say "cannot install debootstrap (see $LOG)"; return 3; }
  fi
  if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    rm -rf "$ROOT"
    say "debootstrap sid into $ROOT"
    debootstrap --variant=minbase sid "$ROOT" "$(debian_mirror)" >>"$LOG" 2>&1 \
      || { say "debootstrap failed (see $LOG)"; return 3; }
  fi
  echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99novalid"
  say "installing mysql-server-core and mysql-client-core in the chroot"
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C sh -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends mysql-server-core mysql-client-core && apt-get clean && rm -rf /var/lib/apt/lists/*' \
    >>"$LOG" 2>&1 || { say "apt-get in the chroot failed (see $LOG)"; return 3; }
}

write_wrappers() {
  mkdir -p "$ROOT/host-bin"
  for tool in mysql mysqldump mysqladmin; do
    cat >"$ROOT/host-bin/$tool" <<EOF
#!/bin/sh
# Runs the chroot's $tool (same version as the chroot's server) from the host.
exec chroot "$ROOT" $tool "\$@"
EOF
    chmod +x "$ROOT/host-bin/$tool"
  done
}

stop_server() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    for _ in $(seq 1 120); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$PIDFILE"
}

start_server() {
  stop_server
  rm -rf "${ROOT:?}$DATADIR" "${ROOT:?}$RUN"
  mkdir -p "$ROOT$DATADIR" "$ROOT$RUN"
  chroot "$ROOT" mysqld --no-defaults --initialize-insecure --user=root --datadir=$DATADIR >>"$LOG" 2>&1 \
    || { say "mysqld --initialize failed (see $LOG)"; return 4; }
  # performance_schema stays on (MySQL's default): the plan checks read its statement history.
  chroot "$ROOT" mysqld --no-defaults --user=root --datadir=$DATADIR \
    --bind-address=127.0.0.1 --port="$PORT" --mysqlx=OFF --secure-file-priv=NULL \
    --performance-schema-consumer-events-statements-history-long=ON \
    --socket=$RUN/mysqld.sock --pid-file=$RUN/mysqld.pid --log-error=$RUN/mysqld.err \
    >/dev/null 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 240); do
    grep -q 'ready for connections' "$ROOT$RUN/mysqld.err" 2>/dev/null && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.25
  done
  if ! grep -q 'ready for connections' "$ROOT$RUN/mysqld.err" 2>/dev/null; then
    tail -20 "$ROOT$RUN/mysqld.err" >&2 || true
    say "mysqld did not start"
    return 4
  fi
  # --initialize-insecure creates only root@localhost; tests connect over TCP from 127.0.0.1.
  chroot "$ROOT" mysql -uroot --socket=$RUN/mysqld.sock -e \
    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" \
    || { say "could not create root@127.0.0.1"; return 4; }
  say "$(chroot "$ROOT" mysqld --version) ready on 127.0.0.1:$PORT"
}

print_env() {
  echo "export MYSQL_URL=mysql://root@127.0.0.1:$PORT"
  echo "export PATH=$ROOT/host-bin:\$PATH"
}

case "${1:-start}" in
  start)
    build_chroot || exit $?
    write_wrappers
    start_server || exit $?
    print_env
    ;;
  stop) stop_server ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 1 ;;
esac
