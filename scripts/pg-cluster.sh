#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Starts and stops a throwaway PostgreSQL cluster for tests and benchmarks: initdb into a
# folder of the caller's choosing, the server listening on 127.0.0.1 on a free port (and a
# Unix socket inside that folder). It is not a way to run a production database. initdb and
# postgres refuse to run as root, so as root they run as the `postgres` system user that
# Debian's postgresql package creates (the folder is handed to that user).
#
#   eval "$(scripts/pg-cluster.sh start DIR)"   prints PG_PORT, PG_PID, PG_DIR, PG_URL
#                                               (postgres://temporald:PASS@127.0.0.1:PORT/temporald),
#                                               PG_ADMIN_URL (superuser, database postgres)
#   scripts/pg-cluster.sh stop DIR              stops that cluster by its postmaster PID
#   scripts/pg-cluster.sh restart DIR           starts a stopped cluster again on its port
#   scripts/pg-cluster.sh psql DIR [args]       psql as the superuser on that cluster
#
# Exit status 3 with one line "skipped: REASON" on stderr when PostgreSQL is not installed
# or cannot start here, so a test script can print that line and carry on.
# Environment: PG_BIN (default: the newest /usr/lib/postgresql/*/bin), PG_FSYNC (on|off,
# default on), PG_SSL=1 (TLS on, with a fresh self-signed certificate for 127.0.0.1; start
# then also prints PG_SSL_ROOT, the certificate to pass as sslrootcert), PG_LISTEN (the
# listen_addresses, default 127.0.0.1; more addresses let clients in other network namespaces
# in, such as the cluster suite's bridge address), PG_CLIENT_NET (a CIDR, such as
# 198.18.7.0/24, whose clients may log in with the password; by default only 127.0.0.1 may).
set -u

skip() { echo "skipped: $*" >&2; exit 3; }

pg_bin() {
    if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
    local b
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$b" ] && echo "$b"
}

# Runs a command as the cluster owner (postgres when we are root, else ourselves).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_free() { ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|psql DIR" >&2; exit 2; }
dir=$(realpath -m "$dir")
PASS=tdpass

case $cmd in
start)
    bin=$(pg_bin)
    [ -n "$bin" ] && [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] ||
        skip "PostgreSQL server binaries not found (install the postgresql package: scripts/deps.sh test)"
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        skip "running as root and there is no 'postgres' user to run the server as"
    fi
    mkdir -p "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres "$dir"
        # the server's user must be able to reach the folder: add search permission (only)
        # to the ancestors it cannot traverse, such as a mktemp -d folder
        a=$(dirname "$dir")
        while [ "$a" != / ]; do
            runuser -u postgres -- test -x "$a" || chmod o+x "$a"
            a=$(dirname "$a")
        done
    fi
    printf '%s\n' "$PASS" >"$dir/pwfile"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir/pwfile"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" -A scram-sha-256 \
        --auth-local=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        skip "initdb failed: $(tail -1 "$dir/initdb.log")"
    ssl_opts=""
    if [ "${PG_SSL:-0}" = 1 ] && command -v openssl >/dev/null 2>&1 &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
            -addext "subjectAltName=IP:127.0.0.1" -keyout "$dir/server.key" \
            -out "$dir/server.crt" >/dev/null 2>&1; then
        chmod 600 "$dir/server.key"
        if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir/server.key" "$dir/server.crt"; fi
        ssl_opts="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
    fi
    echo "$ssl_opts" >"$dir/ssl_opts"
    echo "${PG_LISTEN:-127.0.0.1}" >"$dir/listen"
    if [ -n "${PG_CLIENT_NET:-}" ]; then
        echo "host all all $PG_CLIENT_NET scram-sha-256" >>"$dir/data/pg_hba.conf"
    fi
    started=""
    for _ in 1 2 3 4 5 6 7 8; do
        port=$((20000 + RANDOM % 40000))
        port_free "$port" || continue
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=${PG_LISTEN:-127.0.0.1} -p $port -k $dir/sock -c fsync=${PG_FSYNC:-on} -c max_connections=200 $ssl_opts" \
            start >"$dir/pg_ctl.log" 2>&1 && { started=1; break; }
    done
    [ -n "$started" ] || skip "postgres did not start: $(tail -2 "$dir/server.log" 2>/dev/null | tr '\n' ' ')"
    pid=$(head -1 "$dir/data/postmaster.pid")
    as_owner "$bin/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE temporald LOGIN PASSWORD '$PASS'" \
        -c "CREATE DATABASE temporald OWNER temporald" >>"$dir/initdb.log" 2>&1 ||
        { kill "$pid"; skip "could not create the temporald role and database"; }
    echo "$port" >"$dir/port"
    echo "PG_DIR=$dir"
    echo "PG_PORT=$port"
    echo "PG_PID=$pid"
    echo "PG_URL=postgres://temporald:$PASS@127.0.0.1:$port/temporald"
    echo "PG_ADMIN_URL=postgres://postgres:$PASS@127.0.0.1:$port/postgres"
    if [ -n "$ssl_opts" ]; then echo "PG_SSL_ROOT=$dir/server.crt"; fi
    ;;
stop)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    pid=$(head -1 "$dir/data/postmaster.pid")
    # fast shutdown: SIGINT to the postmaster; then wait for it to go
    kill -INT "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || exit 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    ;;
restart)
    bin=$(pg_bin)
    port=$(cat "$dir/port")
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=$(cat "$dir/listen" 2>/dev/null || echo 127.0.0.1) -p $port -k $dir/sock -c fsync=${PG_FSYNC:-on} -c max_connections=200 $(cat "$dir/ssl_opts" 2>/dev/null)" \
        start >"$dir/pg_ctl.log" 2>&1 || { echo "restart failed: $(tail -2 "$dir/server.log")" >&2; exit 1; }
    ;;
psql)
    shift 2
    bin=$(pg_bin)
    as_owner "$bin/psql" -h "$dir/sock" -p "$(cat "$dir/port")" -U postgres -qAt "$@"
    ;;
*)
    echo "usage: $0 start|stop|restart|psql DIR" >&2
    exit 2
    ;;
esac
