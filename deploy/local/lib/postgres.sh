# shellcheck shell=bash
# A PRIVATE PostgreSQL server per profile, for the session registry's PostgreSQL store
# (docs/operations.md, "Registry on PostgreSQL"). Source it after lib/common.sh (it uses log,
# die, ensure_packages and COBROWSE_RUN_DIR); do not run it.
#
#   postgres_start PROFILE   # test | run | faults | bench: starts (or restarts) our server
#   postgres_stop PROFILE    # stops it; safe when nothing runs, safe to call twice
#   postgres_url PROFILE     # prints the cobrowse role's URL for it
#   postgres_test_environment  # exports COBROWSE_TEST_POSTGRES_URL for the test profile
#
# Each server has its own data folder ($COBROWSE_RUN_DIR/<profile>-postgres, holding its unix
# socket and server.log too) and port, listens on 127.0.0.1 only, and is started and stopped by
# pg_ctl on that folder alone: the system cluster (Debian's "main" on 5432) is never started,
# stopped or reconfigured. PostgreSQL refuses to run as root, so the server runs as the
# `postgres` OS user the package creates. Role `cobrowse` (password `cobrowse`, may create
# databases: each test makes its own) owns database `cobrowse`; TCP logins need the password
# (scram-sha-256).

# _postgres_profile PROFILE — sets the POSTGRES_* globals of one profile.
_postgres_profile() {
    case "${1:-}" in
        # Ports below Linux's ephemeral range, clear of the broker profiles' ports.
        test) POSTGRES_PORT=26632 POSTGRES_WIPE=1 ;;
        run) POSTGRES_PORT=5434 POSTGRES_WIPE=0 ;; # keeps its sessions across local runs
        faults) POSTGRES_PORT=27632 POSTGRES_WIPE=1 ;;
        bench) POSTGRES_PORT=28632 POSTGRES_WIPE=1 ;;
        *) die "unknown PostgreSQL profile '${1:-}' (expected: test, run, faults or bench)" ;;
    esac
    POSTGRES_PROFILE="$1"
    POSTGRES_DIR="$COBROWSE_RUN_DIR/$1-postgres"
    # `deploy/local/run CLUSTER=1 TLS=1` (COBROWSE_RUN_TLS=1): the run server takes TCP logins over
    # TLS only, with the server certificate of .run/tls (lib/common.sh make_test_tls).
    POSTGRES_TLS_DIR=
    if [[ "${COBROWSE_RUN_TLS:-0}" == 1 && "$1" == run ]]; then POSTGRES_TLS_DIR="$COBROWSE_RUN_DIR/tls"; fi
    POSTGRES_LOG="$POSTGRES_DIR/server.log"
}

# _postgres_bin — the newest installed server's bin folder (/usr/lib/postgresql/<version>/bin).
_postgres_bin() {
    local found
    found="$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/pg_ctl' 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$found" ]] || die "no PostgreSQL server under /usr/lib/postgresql (ensure_packages postgresql)"
    dirname "$found"
}

# _as_postgres COMMAND... — runs COMMAND as the postgres OS user, from / (it may not be able to
# enter the caller's folder).
_as_postgres() {
    if ((EUID == 0)); then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && sudo -u postgres -- "$@")
    fi
}

# _postgres_running — true if a server runs on our data folder: the pid on the first line of its
# postmaster.pid is a live process (_proc_running: a killed server's unreaped zombie is not).
_postgres_running() {
    local pid
    { read -r pid <"$POSTGRES_DIR/postmaster.pid"; } 2>/dev/null || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && _proc_running "$pid"
}

# postgres_url PROFILE — the cobrowse role's URL of that profile's server.
postgres_url() {
    _postgres_profile "$1"
    if [[ -n "$POSTGRES_TLS_DIR" ]]; then
        # verify-full: the certificate must come from our CA and name 127.0.0.1.
        printf 'postgres://cobrowse:cobrowse@127.0.0.1:%s/cobrowse?sslmode=verify-full&sslrootcert=%s\n' "$POSTGRES_PORT" "$POSTGRES_TLS_DIR/ca.pem"
    else
        printf 'postgres://cobrowse:cobrowse@127.0.0.1:%s/cobrowse\n' "$POSTGRES_PORT"
    fi
}

# postgres_test_environment — exports the URL the Swift tests read for the running test server.
postgres_test_environment() {
    COBROWSE_TEST_POSTGRES_URL="$(postgres_url test)"
    export COBROWSE_TEST_POSTGRES_URL
}

# postgres_start PROFILE — starts the profile's server (stopping a leftover one of ours first)
# and waits until it accepts connections with the cobrowse role and database in place.
postgres_start() {
    _postgres_profile "$1"
    local profile="$1" bin
    bin="$(_postgres_bin)"
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (is the postgresql package installed?)"

    postgres_stop "$profile"
    ! _port_open "$POSTGRES_PORT" ||
        die "port $POSTGRES_PORT is already in use by another process; cannot start the $profile PostgreSQL server"

    if ((POSTGRES_WIPE)); then rm -rf "$POSTGRES_DIR"; fi
    mkdir -p "$COBROWSE_RUN_DIR"
    _as_postgres test -x "$COBROWSE_RUN_DIR" ||
        die "the postgres OS user cannot enter $COBROWSE_RUN_DIR (every folder above it needs o+x)"

    if [[ ! -f "$POSTGRES_DIR/PG_VERSION" ]]; then
        rm -rf "$POSTGRES_DIR"
        mkdir -p "$POSTGRES_DIR"
        chown postgres:postgres "$POSTGRES_DIR"
        chmod 700 "$POSTGRES_DIR"
        log "creating the $profile PostgreSQL cluster in $POSTGRES_DIR"
        # Peer logins on the socket (the postgres OS user administers), passwords over TCP.
        _as_postgres "$bin/initdb" -D "$POSTGRES_DIR" -U postgres --encoding=UTF8 --locale=C \
            --auth-local=peer --auth-host=scram-sha-256 >"$COBROWSE_RUN_DIR/$profile-postgres-initdb.log" 2>&1 ||
            die "initdb failed; see $COBROWSE_RUN_DIR/$profile-postgres-initdb.log"
        printf "\n# Added by deploy/local/lib/postgres.sh; rewritten at each start.\ninclude_if_exists = 'cobrowse.conf'\n" |
            _as_postgres tee -a "$POSTGRES_DIR/postgresql.conf" >/dev/null
    fi
    _postgres_write_config

    log "starting PostgreSQL ($profile profile, 127.0.0.1:$POSTGRES_PORT, data $POSTGRES_DIR)"
    # setsid: its own session, so a Ctrl-C in the terminal reaches the caller's trap (which
    # stops the server cleanly) rather than the server directly.
    if ! _as_postgres setsid -w "$bin/pg_ctl" -D "$POSTGRES_DIR" -l "$POSTGRES_LOG" -w -t 60 start >/dev/null; then
        log "---- last lines of $POSTGRES_LOG ----"
        tail -n 20 "$POSTGRES_LOG" >&2 || true
        die "the $profile PostgreSQL server did not start"
    fi

    # The role and database, idempotently (a kept "run" cluster has them already).
    _as_postgres "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$POSTGRES_DIR" -p "$POSTGRES_PORT" -U postgres -d postgres <<'SQL' >/dev/null ||
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cobrowse') THEN
        CREATE ROLE cobrowse LOGIN CREATEDB PASSWORD 'cobrowse';
    END IF;
END $$;
SELECT 'CREATE DATABASE cobrowse OWNER cobrowse' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'cobrowse')
\gexec
SQL
        die "could not create the cobrowse role and database on the $profile PostgreSQL server"
    log "PostgreSQL ($profile) is up: $(postgres_url "$profile" | sed 's/:cobrowse@/:****@/')"
}

# _postgres_write_config — the settings of our server, included from postgresql.conf.
_postgres_write_config() {
    local durability
    if [[ "$POSTGRES_PROFILE" == test || "$POSTGRES_PROFILE" == faults ]]; then
        # Wiped at every start, so nothing to keep through an OS crash: skip the flushes (the
        # tests create and drop a database each, and DROP DATABASE checkpoints).
        durability="fsync = off
full_page_writes = off"
    else
        durability="fsync = on
synchronous_commit = on"
    fi
    _as_postgres tee "$POSTGRES_DIR/cobrowse.conf" >/dev/null <<EOF
# Generated by deploy/local/lib/postgres.sh for the '$POSTGRES_PROFILE' profile; rewritten at each start.
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
unix_socket_directories = '$POSTGRES_DIR'
# Tests run many registries and stores at once, each with a small pool.
max_connections = 300
$durability
logging_collector = off
log_min_messages = warning
EOF
    [[ -n "$POSTGRES_TLS_DIR" ]] || return 0
    # PostgreSQL wants its key owned by its user and private: copies in the data folder.
    local file
    for file in server.pem server.key; do
        install -o postgres -g postgres -m 600 "$POSTGRES_TLS_DIR/$file" "$POSTGRES_DIR/tls-$file"
    done
    # Our own pg_hba: peer logins on the socket, password logins over TLS only (hostssl).
    printf '%s\n' "# Generated by deploy/local/lib/postgres.sh (TLS); rewritten at each start." \
        "local all all peer" "hostssl all all 127.0.0.1/32 scram-sha-256" |
        _as_postgres tee "$POSTGRES_DIR/cobrowse_hba.conf" >/dev/null
    _as_postgres tee -a "$POSTGRES_DIR/cobrowse.conf" >/dev/null <<EOF
ssl = on
ssl_cert_file = 'tls-server.pem'
ssl_key_file = 'tls-server.key'
ssl_min_protocol_version = 'TLSv1.2'
hba_file = '$POSTGRES_DIR/cobrowse_hba.conf'
EOF
}

# postgres_stop PROFILE — stops the profile's server (fast: open transactions roll back). Safe
# when nothing runs and safe to call twice; never touches another server.
postgres_stop() {
    _postgres_profile "$1"
    _postgres_running || return 0
    log "stopping PostgreSQL ($POSTGRES_PROFILE profile)"
    _as_postgres "$(_postgres_bin)/pg_ctl" -D "$POSTGRES_DIR" -m fast -w -t 60 stop >/dev/null && return 0
    # Still running after a minute: skip the shutdown checkpoint (the data is ours to lose).
    log "pg_ctl could not stop the $POSTGRES_PROFILE PostgreSQL server in 60 s; stopping it immediately"
    _as_postgres "$(_postgres_bin)/pg_ctl" -D "$POSTGRES_DIR" -m immediate -w -t 30 stop >/dev/null ||
        log "the $POSTGRES_PROFILE PostgreSQL server did not stop (see $POSTGRES_LOG)"
}
