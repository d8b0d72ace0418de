# shellcheck shell=bash
# Shared helpers for deploy/local/{test,run,bench}. Source it; do not run it.
#
# It starts a PRIVATE RabbitMQ node per profile ("test", "run", "faults" or "bench"): its own
# node name, ports, epmd port, HOME (so its own Erlang cookie) and data
# folder under <repo>/.run. A system RabbitMQ on 5672/25672/4369 (or any
# other node) is never contacted, stopped or reconfigured. lib/cluster.sh (sourced at the end)
# builds three-node clusters ("cluster-test", "cluster-run") from the same node profiles.

set -euo pipefail

COBROWSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
COBROWSE_RUN_DIR="$COBROWSE_ROOT/.run"

# The Debian package's /usr/sbin/rabbitmq* wrappers `su` to the rabbitmq
# user and drop our environment, so call the real scripts directly.
RABBITMQ_BIN_DIR="${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}"
# Extra Erlang VM flags of every local broker: no scheduler busy-waiting (see BROKER_ENV);
# BROKER_ERL_ARGS= (empty) keeps the VM's defaults, to measure the difference.
BROKER_ERL_ARGS="${BROKER_ERL_ARGS-+sbwt none +sbwtdcpu none +sbwtdio none}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------

# ensure_packages PKG... — install only what is missing (one apt-get update).
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    ((${#missing[@]} == 0)) && return 0

    log "installing missing packages: ${missing[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    # A subshell so its trap removes our temporary policy-rc.d whatever
    # happens, without replacing the caller's traps.
    (
        # policy-rc.d exit 101 stops maintainer scripts from starting
        # services (a system rabbitmq we don't want). Only create/remove
        # it if it isn't already there, so no system file is left changed.
        policy=/usr/sbin/policy-rc.d
        if [[ ! -e "$policy" ]]; then
            trap '"${sudo[@]}" rm -f "$policy"' EXIT INT TERM
            printf '#!/bin/sh\n# temporary, created by cobrowse deploy/local/lib/common.sh\nexit 101\n' |
                "${sudo[@]}" tee "$policy" >/dev/null
            "${sudo[@]}" chmod 755 "$policy"
        fi
        "${sudo[@]}" apt-get update
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    )
}

# ---------------------------------------------------------------------------
# Broker profiles
# ---------------------------------------------------------------------------

# _broker_profile PROFILE — sets BROKER_* globals, BROKER_ENV (VAR=value
# list used for both rabbitmq-server and rabbitmqctl) for one profile.
_broker_profile() {
    # Single-node defaults; a cluster node's profile changes them.
    BROKER_HOME=
    BROKER_EPMD_SIBLINGS=
    BROKER_DEFINITIONS="$COBROWSE_ROOT/deploy/rabbitmq/definitions.json"
    case "${1:-}" in
        test)
            BROKER_NODE=cobrowse-test@localhost
            # Below Linux's ephemeral range (32768-60999): a client
            # reconnecting to a stopped broker on an ephemeral port can
            # connect to itself and hold that port.
            BROKER_AMQP_PORT=26672
            BROKER_AMQPS_PORT=26671
            BROKER_MGMT_PORT=26673
            BROKER_PROM_PORT=26692
            BROKER_DIST_PORT=26674
            BROKER_EPMD_PORT=26669
            # rabbitmqctl is an Erlang node too: its listen range starts
            # here, clear of the ports above and of the run profile's.
            BROKER_CTL_DIST_MIN=26680
            BROKER_DIR="$COBROWSE_RUN_DIR/test-broker"
            BROKER_TLS_DIR="$COBROWSE_RUN_DIR/test-broker-tls"
            BROKER_WIPE=1 # tests always start from the definitions file
            ;;
        run)
            BROKER_NODE=cobrowse-run@localhost
            BROKER_AMQP_PORT=5673
            BROKER_AMQPS_PORT=
            BROKER_MGMT_PORT=15673
            BROKER_PROM_PORT=15693
            BROKER_DIST_PORT=25679
            BROKER_EPMD_PORT=4370
            BROKER_CTL_DIST_MIN=25680
            BROKER_DIR="$COBROWSE_RUN_DIR/run-broker"
            BROKER_TLS_DIR=
            BROKER_WIPE=0 # keep queues/messages across local runs
            ;;
        faults)
            # Tests/faults: a node of its own, which the suite stops and starts in the middle
            # of a run; ports below the ephemeral range, clear of the test and run profiles.
            BROKER_NODE=cobrowse-faults@localhost
            BROKER_AMQP_PORT=27672
            BROKER_AMQPS_PORT=
            BROKER_MGMT_PORT=27673
            BROKER_PROM_PORT=27692
            BROKER_DIST_PORT=27674
            BROKER_EPMD_PORT=27669
            BROKER_CTL_DIST_MIN=27680
            BROKER_DIR="$COBROWSE_RUN_DIR/faults-broker"
            BROKER_TLS_DIR=
            # Wiped at each start, except the suite's own restart in the middle of a run
            # (COBROWSE_FAULTS_KEEP_DATA=1), which keeps its data as a real broker restart does.
            BROKER_WIPE=$((${COBROWSE_FAULTS_KEEP_DATA:-0} ? 0 : 1))
            ;;
        bench)
            # deploy/local/bench: a node of its own, so a benchmark never shares a broker with
            # the tests; ports below the ephemeral range, clear of the other profiles.
            BROKER_NODE=cobrowse-bench@localhost
            BROKER_AMQP_PORT=28672
            BROKER_AMQPS_PORT=
            BROKER_MGMT_PORT=28673
            BROKER_PROM_PORT=28692
            BROKER_DIST_PORT=28674
            BROKER_EPMD_PORT=28669
            BROKER_CTL_DIST_MIN=28680
            BROKER_DIR="$COBROWSE_RUN_DIR/bench-broker"
            BROKER_TLS_DIR=
            BROKER_WIPE=1 # every benchmark starts from the definitions file
            ;;
        cluster-test-[1-3] | cluster-run-[1-3])
            # Node N of a local three-node cluster (lib/cluster.sh). Each node has its own ports
            # (node 1 x96xx, node 2 x97xx, node 3 x98xx), below the ephemeral range and clear of
            # the other profiles; the nodes of a cluster share one epmd (they find each other
            # through it) and one HOME (one Erlang cookie), each node its own data folder.
            local n="${1##*-}" cluster="${1%-*}" base
            case "$cluster" in
                cluster-test) base=29600 BROKER_NODE="cobrowse-ct$n@localhost" BROKER_WIPE=1 ;;
                # Keeps its queues and messages across local runs, as "run" does.
                cluster-run) base=30600 BROKER_NODE="cobrowse-cr$n@localhost" BROKER_WIPE=0 ;;
            esac
            local port=$((base + (n - 1) * 100))
            BROKER_AMQP_PORT=$((port + 72))
            BROKER_AMQPS_PORT=
            BROKER_MGMT_PORT=$((port + 73))
            BROKER_PROM_PORT=$((port + 92))
            BROKER_DIST_PORT=$((port + 74))
            BROKER_EPMD_PORT=$((base + 69))
            BROKER_CTL_DIST_MIN=$((port + 80))
            BROKER_HOME="$COBROWSE_RUN_DIR/$cluster"
            BROKER_DIR="$BROKER_HOME/node$n"
            BROKER_TLS_DIR=
            # The other nodes in our epmd: broker_stop leaves it running while one of them is.
            local i
            for i in 1 2 3; do ((i == n)) || BROKER_EPMD_SIBLINGS+="${BROKER_NODE%%[1-3]@*}$i "; done
            # Only node 1 imports definitions.json; the others get everything by joining it.
            ((n == 1)) || BROKER_DEFINITIONS=
            ;;
        *) die "unknown broker profile '${1:-}' (expected: test, run, faults, bench, or cluster-test-N / cluster-run-N with N 1 to 3)" ;;
    esac
    # `deploy/local/run TLS=1` (COBROWSE_RUN_TLS=1): the run profiles' nodes speak TLS only, with
    # the certificates of .run/tls (make_test_tls): AMQPS on BROKER_AMQP_PORT and no plain
    # listener, HTTPS for the management UI and the Prometheus endpoint, and Erlang distribution
    # (between the nodes, and to the CLI tools) over TLS too.
    BROKER_TLS_ONLY=0
    BROKER_HTTP=http
    BROKER_CURL_TLS=()
    if [[ "${COBROWSE_RUN_TLS:-0}" == 1 && ( "$1" == run || "$1" == cluster-run-[1-3] ) ]]; then
        BROKER_TLS_ONLY=1
        BROKER_TLS_DIR="$COBROWSE_RUN_DIR/tls"
        BROKER_HTTP=https
        BROKER_CURL_TLS=(--cacert "$BROKER_TLS_DIR/ca.pem")
    fi
    BROKER_PROFILE="$1"
    BROKER_HOME="${BROKER_HOME:-$BROKER_DIR}"
    BROKER_SHORTNAME="${BROKER_NODE%@*}"
    BROKER_CONSOLE_LOG="$BROKER_DIR/console.log"   # rabbitmq-server stdout/stderr
    BROKER_WRAPPER_PID="$BROKER_DIR/server.pid"    # pid of the rabbitmq-server script
    BROKER_BEAM_PID="$BROKER_DIR/rabbitmq.pid"     # pid of the Erlang VM (written by RabbitMQ)
    BROKER_CTL="$COBROWSE_RUN_DIR/$1-rabbitmqctl"  # generated wrapper, see broker_start
    BROKER_ENV=(
        HOME="$BROKER_HOME" # private .erlang.cookie, shared by server and CLI (and a cluster's nodes)
        ERL_EPMD_PORT="$BROKER_EPMD_PORT"
        RABBITMQ_NODENAME="$BROKER_NODE"
        RABBITMQ_NODE_PORT="$BROKER_AMQP_PORT"
        RABBITMQ_DIST_PORT="$BROKER_DIST_PORT"
        RABBITMQ_CTL_DIST_PORT_MIN="$BROKER_CTL_DIST_MIN"
        RABBITMQ_CTL_DIST_PORT_MAX="$((BROKER_CTL_DIST_MIN + 9))"
        RABBITMQ_MNESIA_BASE="$BROKER_DIR/mnesia"
        RABBITMQ_LOG_BASE="$BROKER_DIR/log"
        RABBITMQ_PID_FILE="$BROKER_BEAM_PID"
        RABBITMQ_ENABLED_PLUGINS_FILE="$BROKER_DIR/enabled_plugins"
        RABBITMQ_CONFIG_FILE="$BROKER_DIR/rabbitmq.conf"
        # Point away from /etc/rabbitmq so the system files never apply.
        RABBITMQ_ADVANCED_CONFIG_FILE="$BROKER_DIR/advanced.config"
        RABBITMQ_CONF_ENV_FILE="$BROKER_DIR/rabbitmq-env.conf"
        # Erlang's schedulers spin for a while before they sleep: on a small machine shared with
        # the services that spinning is CPU the services lose (docs/benchmarks.md, "Where the
        # time goes"). docker-compose.yml sets the same.
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$BROKER_ERL_ARGS"
    )
    if ((BROKER_TLS_ONLY)); then
        # Replaces the entry above; the CLI tools (rabbitmqctl, rabbitmq-queues, …) are Erlang
        # nodes too, so they take the same flags.
        local dist_args="-proto_dist inet_tls -ssl_dist_optfile $BROKER_TLS_DIR/erlang-distribution.config"
        BROKER_ENV[${#BROKER_ENV[@]} - 1]="RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=$BROKER_ERL_ARGS $dist_args"
        BROKER_ENV+=(RABBITMQ_CTL_ERL_ARGS="$dist_args")
    fi
}

# _broker_write_tls_distribution_config — the TLS options of Erlang distribution (-ssl_dist_optfile)
# for a TLS-only node: both ends present the node certificate and verify the other's against the
# CA, with the host name every local node name holds ("localhost").
_broker_write_tls_distribution_config() {
    local dir="$BROKER_TLS_DIR" options
    options="{cacertfile, \"$dir/ca.pem\"}, {certfile, \"$dir/server.pem\"}, {keyfile, \"$dir/server.key\"}, {verify, verify_peer}, {secure_renegotiate, true}, {versions, ['tlsv1.3', 'tlsv1.2']}"
    printf '%%%% Generated by deploy/local/lib/common.sh: Erlang distribution over TLS.\n[{server, [%s, {fail_if_no_peer_cert, true}]},\n {client, [%s, {server_name_indication, "localhost"}]}].\n' \
        "$options" "$options" >"$dir/erlang-distribution.config"
}

# _pid_alive FILE — true if FILE names a live (non-zombie) process.
_pid_alive() {
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(<"$1")"
    [[ "$pid" =~ ^[0-9]+$ ]] && _proc_running "$pid"
}

# _proc_running PID — kill -0 alone is not enough: in containers whose init
# does not reap orphans, an exited process lingers as a zombie.
_proc_running() {
    local stat
    # read, not $(cat ...): no child process per check, so a Ctrl-C always lands in this shell.
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat="${stat##*) }" # state follows the "(command)" field
    [[ -n "$stat" && "${stat:0:1}" != Z ]]
}

# _port_open PORT — true if something accepts TCP connections on 127.0.0.1:PORT.
_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _node_registered [SHORTNAME...] — true if our node name (or one of SHORTNAME...) is registered
# in our epmd.
_node_registered() {
    local names name
    _port_open "$BROKER_EPMD_PORT" || return 1
    # Captured first: with pipefail, grep -q closing the pipe early could fail it.
    names="$(epmd -port "$BROKER_EPMD_PORT" -names 2>/dev/null || true)"
    for name in "${@:-$BROKER_SHORTNAME}"; do
        grep -q "^name $name at port " <<<"$names" && return 0
    done
    return 1
}

_broker_write_config() {
    local conf="$BROKER_DIR/rabbitmq.conf"
    cat >"$conf" <<EOF
# Generated by deploy/local/lib/common.sh for the '$BROKER_PROFILE' profile; rewritten at each start.
listeners.tcp.default = $BROKER_AMQP_PORT
management.tcp.port = $BROKER_MGMT_PORT
prometheus.tcp.port = $BROKER_PROM_PORT
# The users are definitions.json's (the administrator, one per service, cobrowse-ctl and the
# monitor); let them log in from any address.
loopback_users = none
log.file.level = info
# stdout (console.log) only gets warnings, so its tail is readable on failure.
log.console = true
log.console.level = warning
EOF
    if [[ -n "$BROKER_DEFINITIONS" ]]; then
        printf 'load_definitions = %s\n' "$BROKER_DEFINITIONS" >>"$conf"
    fi
    if ((BROKER_TLS_ONLY)); then
        # The same ports, TLS only: the first three lines above are replaced.
        local tls="$BROKER_TLS_DIR" kind
        sed -i -e '/^listeners.tcp.default = /d' -e '/^management.tcp.port = /d' -e '/^prometheus.tcp.port = /d' "$conf"
        {
            printf '# TLS only (deploy/local/run TLS=1): no plain AMQP listener, HTTPS for the UI and metrics.\n'
            printf 'listeners.tcp = none\nlisteners.ssl.default = %s\n' "$BROKER_AMQP_PORT"
            printf 'ssl_options.cacertfile = %s\nssl_options.certfile = %s\nssl_options.keyfile = %s\n' "$tls/ca.pem" "$tls/server.pem" "$tls/server.key"
            printf 'ssl_options.versions.1 = tlsv1.3\nssl_options.versions.2 = tlsv1.2\n'
            printf 'ssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = false\n'
            for kind in management prometheus; do
                printf '%s.ssl.port = %s\n' "$kind" "$([[ $kind == management ]] && echo "$BROKER_MGMT_PORT" || echo "$BROKER_PROM_PORT")"
                printf '%s.ssl.cacertfile = %s\n%s.ssl.certfile = %s\n%s.ssl.keyfile = %s\n' \
                    "$kind" "$tls/ca.pem" "$kind" "$tls/server.pem" "$kind" "$tls/server.key"
            done
        } >>"$conf"
        _broker_write_tls_distribution_config
    fi
    if [[ -n "$BROKER_AMQPS_PORT" ]]; then
        cat >>"$conf" <<EOF
listeners.ssl.default = $BROKER_AMQPS_PORT
ssl_options.cacertfile = $BROKER_TLS_DIR/ca.pem
ssl_options.certfile = $BROKER_TLS_DIR/server.pem
ssl_options.keyfile = $BROKER_TLS_DIR/server.key
# Ask for a client certificate (tests for mutual TLS) but don't require one.
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
EOF
    fi
    cp "$COBROWSE_ROOT/deploy/rabbitmq/enabled_plugins" "$BROKER_DIR/enabled_plugins"
    printf '# Intentionally empty: keeps /etc/rabbitmq/rabbitmq-env.conf out of our node.\n' \
        >"$BROKER_DIR/rabbitmq-env.conf"
}

# _broker_write_ctl_wrapper — a script that runs rabbitmqctl against this
# node, for tests ($COBROWSE_TEST_RABBITMQCTL stop_app) and for humans.
_broker_write_ctl_wrapper() {
    {
        printf '#!/usr/bin/env bash\n'
        printf '# Generated by deploy/local/lib/common.sh: rabbitmqctl for node %s.\n' "$BROKER_NODE"
        printf 'exec env'
        printf ' %q' "${BROKER_ENV[@]}" "$RABBITMQ_BIN_DIR/rabbitmqctl"
        printf ' "$@"\n'
    } >"$BROKER_CTL"
    chmod 755 "$BROKER_CTL"
}

# broker_ctl PROFILE ARGS... — rabbitmqctl against that profile's node.
broker_ctl() {
    _broker_profile "$1"
    shift
    env "${BROKER_ENV[@]}" "$RABBITMQ_BIN_DIR/rabbitmqctl" "$@"
}

# broker_test_environment — exports the COBROWSE_TEST_* variables the Swift and
# browser tests read, for the running test broker. The URLs are the administrator's: the
# harnesses create a virtual host per test with it and start each service as its own user
# (the permissions of definitions.json; each local password is the user's name).
broker_test_environment() {
    _broker_profile test
    export COBROWSE_TEST_AMQP_URL="amqp://cobrowse:cobrowse@127.0.0.1:$BROKER_AMQP_PORT/%2F"
    export COBROWSE_TEST_AMQPS_URL="amqps://cobrowse:cobrowse@localhost:$BROKER_AMQPS_PORT/%2F?cacertfile=$BROKER_TLS_DIR/ca.pem"
    export COBROWSE_TEST_TLS_DIR="$BROKER_TLS_DIR"
    export COBROWSE_TEST_MANAGEMENT_URL="http://127.0.0.1:$BROKER_MGMT_PORT"
    export COBROWSE_TEST_RABBITMQCTL="$BROKER_CTL" # written by broker_start
}

# _broker_forget_stale_data — a node that keeps its data (the run profile) starts afresh when
# definitions.json changed since that data was made: a queue's type and arguments cannot change
# in place, so the services of a newer checkout would be refused (PRECONDITION_FAILED).
_broker_forget_stale_data() {
    local stamp="$BROKER_DIR/definitions.sha256" current
    current="$(sha256sum "$COBROWSE_ROOT/deploy/rabbitmq/definitions.json" | cut -d' ' -f1)"
    if [[ -d "$BROKER_DIR" && "$(cat "$stamp" 2>/dev/null || true)" != "$current" ]]; then
        log "deploy/rabbitmq/definitions.json changed since $BROKER_DIR was made: starting that broker afresh"
        rm -rf "$BROKER_DIR"
    fi
    mkdir -p "$BROKER_DIR"
    printf '%s\n' "$current" >"$stamp"
}

# broker_start PROFILE — start the profile's node and wait until it is booted.
broker_start() {
    _broker_profile "$1"
    local profile="$1" started=$SECONDS
    _broker_check_installed

    # A leftover node of ours (crashed script, earlier run) is stopped first.
    broker_stop "$profile"
    _broker_check_ports

    if ((BROKER_WIPE)); then rm -rf "$BROKER_DIR"; fi
    _broker_forget_stale_data
    # (Re)make the TLS files if missing or expiring within a day.
    if [[ -n "$BROKER_AMQPS_PORT" ]] &&
        ! openssl x509 -checkend 86400 -noout -in "$BROKER_TLS_DIR/server.pem" >/dev/null 2>&1; then
        make_test_tls "$BROKER_TLS_DIR"
    fi
    _broker_launch
    _broker_await_startup $((SECONDS + 60)) || {
        _broker_stop_and_fail "$profile" $? 60
    }
    if ! _broker_definitions_loaded; then
        broker_stop "$profile" || true
        _broker_fail "broker is up but deploy/rabbitmq/definitions.json was not loaded (no cobrowse user, cobrowse.ingest exchange or service users)"
    fi
    log "RabbitMQ node $BROKER_NODE is up after $((SECONDS - started)) s"
}

_broker_check_installed() {
    command -v epmd >/dev/null || die "epmd not found (is rabbitmq-server installed?)"
    [[ -x "$RABBITMQ_BIN_DIR/rabbitmq-server" ]] || die "$RABBITMQ_BIN_DIR/rabbitmq-server not found"
}

# _broker_check_ports — dies if another process holds one of the current node's ports.
_broker_check_ports() {
    local port
    for port in $BROKER_AMQP_PORT $BROKER_AMQPS_PORT $BROKER_MGMT_PORT $BROKER_PROM_PORT $BROKER_DIST_PORT; do
        ! _port_open "$port" || die "port $port is already in use by another process; cannot start RabbitMQ node $BROKER_NODE ($BROKER_PROFILE)"
    done
}

# _broker_launch — starts the current profile's node in the background on its data folder as
# it is, and returns at once (_broker_await_startup waits for it).
_broker_launch() {
    mkdir -p "$BROKER_DIR/log" "$BROKER_DIR/mnesia"
    chmod 700 "$BROKER_DIR" "$BROKER_HOME"
    _broker_write_config
    _broker_write_ctl_wrapper
    rm -f "$BROKER_WRAPPER_PID" "$BROKER_BEAM_PID"

    log "starting RabbitMQ node $BROKER_NODE (AMQP $BROKER_AMQP_PORT${BROKER_AMQPS_PORT:+, AMQPS $BROKER_AMQPS_PORT}, management $BROKER_MGMT_PORT)"
    # setsid: own session, so a Ctrl-C in the terminal reaches our trap
    # (which stops the node cleanly) rather than killing the node directly.
    (cd "$BROKER_DIR" && exec setsid env "${BROKER_ENV[@]}" "$RABBITMQ_BIN_DIR/rabbitmq-server" \
        >"$BROKER_CONSOLE_LOG" 2>&1 </dev/null) &
    echo $! >"$BROKER_WRAPPER_PID"
}

# _broker_await_startup DEADLINE — waits until the current profile's node has fully booted
# (plugins started, definitions imported). Returns 1 when $SECONDS reaches DEADLINE first, 2 if
# rabbitmq-server exits.
_broker_await_startup() {
    local deadline=$1 left
    # Until the node has registered in epmd, await_startup fails at once, so poll.
    while true; do
        left=$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))
        if env "${BROKER_ENV[@]}" timeout $((left + 10)) "$RABBITMQ_BIN_DIR/rabbitmqctl" -q \
            await_startup --timeout "$left" >/dev/null 2>&1; then
            return 0
        fi
        _pid_alive "$BROKER_WRAPPER_PID" || return 2
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

# _broker_definitions_loaded — RabbitMQ boots even when definitions.json fails to import (it
# only logs it); this catches that before it shows as confusing test failures.
_broker_definitions_loaded() {
    curl -fs -o /dev/null "${BROKER_CURL_TLS[@]}" -u cobrowse:cobrowse \
        "$BROKER_HTTP://127.0.0.1:$BROKER_MGMT_PORT/api/exchanges/%2F/cobrowse.ingest" &&
        curl -fs -o /dev/null "${BROKER_CURL_TLS[@]}" -u cobrowse:cobrowse \
            "$BROKER_HTTP://127.0.0.1:$BROKER_MGMT_PORT/api/permissions/%2F/cobrowse-filter"
}

# _broker_stop_and_fail PROFILE STATUS SECONDS — after _broker_await_startup returned STATUS:
# stops the profile's node and fails with its logs.
_broker_stop_and_fail() {
    broker_stop "$1" || true
    _broker_profile "$1"
    if (($2 == 2)); then _broker_fail "rabbitmq-server exited during startup"; fi
    _broker_fail "RabbitMQ did not finish starting within $3 s"
}

_broker_fail() {
    log "ERROR: $1 (node $BROKER_NODE)"
    local node_log="$BROKER_DIR/log/$BROKER_NODE.log" problems
    if [[ -f "$BROKER_CONSOLE_LOG" ]]; then
        log "---- last lines of $BROKER_CONSOLE_LOG ----"
        tail -n 20 "$BROKER_CONSOLE_LOG" >&2
    fi
    if [[ -f "$node_log" ]]; then
        # The node log ends with shutdown noise; its errors/warnings say more.
        problems="$(grep -E '\[(error|warning|critical)\]' "$node_log" | tail -n 20 || true)"
        log "---- ${problems:+errors/warnings in }$node_log ----"
        if [[ -n "$problems" ]]; then printf '%s\n' "$problems" >&2; else tail -n 40 "$node_log" >&2; fi
    fi
    exit 1
}

# broker_stop PROFILE — stop the profile's node and its epmd. Safe to call
# when nothing runs and safe to call twice. Never touches other nodes.
broker_stop() {
    _broker_profile "$1"
    local pid i pids=() stopping=0

    # Remember the pids now: RabbitMQ deletes its own pid file while it
    # shuts down, well before the VM has exited.
    _pid_alive "$BROKER_WRAPPER_PID" && pids+=("$(<"$BROKER_WRAPPER_PID")")
    _pid_alive "$BROKER_BEAM_PID" && pids+=("$(<"$BROKER_BEAM_PID")")

    if ((${#pids[@]} > 0)) || _node_registered; then
        stopping=1
        log "stopping RabbitMQ node $BROKER_NODE"
        if ((${#pids[@]} == 0)); then
            # Pid files lost (e.g. .run cleaned by hand): ask the node for its
            # OS pid so we can still wait for the VM to exit.
            pid="$(env "${BROKER_ENV[@]}" timeout 30 "$RABBITMQ_BIN_DIR/rabbitmqctl" -q eval \
                'list_to_integer(os:getpid()).' 2>/dev/null || true)"
            [[ ! "$pid" =~ ^[0-9]+$ ]] || pids+=("$pid")
        fi
        env "${BROKER_ENV[@]}" timeout 60 "$RABBITMQ_BIN_DIR/rabbitmqctl" -q stop >/dev/null 2>&1 || true
    fi

    # rabbitmqctl stop returns before the VM has exited: wait up to 15 s for
    # our processes to go and for the node to leave epmd and its ports.
    _broker_still_up() {
        local p
        for p in "${pids[@]}"; do _proc_running "$p" && return 0; done
        ((stopping)) && { _node_registered || _port_open "$BROKER_DIST_PORT" || _port_open "$BROKER_AMQP_PORT"; }
    }
    for ((i = 0; i < 30; i++)); do
        _broker_still_up || break
        sleep 0.5
    done
    # Still there: TERM, then KILL — only the pids we recorded.
    for pid in "${pids[@]}"; do
        _proc_running "$pid" || continue
        log "RabbitMQ process $pid did not exit; sending TERM"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do
            _proc_running "$pid" || break
            sleep 0.5
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$BROKER_WRAPPER_PID" "$BROKER_BEAM_PID"

    # Our epmd (on our own port) outlives the node; end it too, unless another node of our
    # cluster still uses it.
    if _port_open "$BROKER_EPMD_PORT" && { [[ -z "$BROKER_EPMD_SIBLINGS" ]] || ! _node_registered $BROKER_EPMD_SIBLINGS; }; then
        epmd -port "$BROKER_EPMD_PORT" -kill >/dev/null 2>&1 || true
    fi
}

# ---------------------------------------------------------------------------
# TLS material for the test broker
# ---------------------------------------------------------------------------

# make_test_tls DIR [SAN] [USAGE] — test CA, server cert (CN=localhost, SAN DNS:localhost
# only: tests rely on 127.0.0.1 failing hostname verification) and a client
# cert (CN=cobrowse). RSA 2048, 30 days. Test-only keys, so world-readable.
# deploy/local/run TLS=1 passes SAN "DNS:localhost,IP:127.0.0.1" and USAGE
# "serverAuth,clientAuth" (its nodes present the server cert to each other too).
make_test_tls() {
    local dir="$1" san="${2:-DNS:localhost}" usage="${3:-serverAuth}"
    mkdir -p "$dir"
    (
        cd "$dir"
        rm -f ./*.pem ./*.key ./*.csr ./*.srl ./*.ext
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
            -keyout ca.key -out ca.pem -subj "/CN=cobrowse test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=$usage" "subjectAltName=$san" >server.ext
        openssl req -new -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -days 30 -sha256 -extfile server.ext -out server.pem 2>/dev/null

        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=clientAuth" >client.ext
        openssl req -new -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=cobrowse" 2>/dev/null
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -days 30 -sha256 -extfile client.ext -out client.pem 2>/dev/null

        rm -f ./*.csr ./*.ext ./*.srl
        chmod 644 ./*.pem ./*.key
    )
}

# shellcheck source=cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
