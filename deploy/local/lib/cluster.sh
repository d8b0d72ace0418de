# shellcheck shell=bash
# A local three-node RabbitMQ cluster per profile, for tests ("cluster-test") and for
# `CLUSTER=1 deploy/local/run` ("cluster-run"). Sourced by lib/common.sh; do not run it.
#
#   cluster_start PROFILE          starts nodes 1-3, joins 2 and 3 to 1, waits for 3 running nodes,
#                                  and makes 2 and 3 members of every quorum queue
#   cluster_stop PROFILE           stops our three nodes and their epmd; safe to call twice
#   cluster_node_kill PROFILE N    kill -9 of node N's Erlang VM (a crash, for failover tests)
#   cluster_node_start PROFILE N   starts node N again on its data and waits until it has rejoined
#   cluster_amqp_urls PROFILE USER [FIRST]   the three nodes' URLs for USER (password = name),
#                                  comma-separated, starting at node FIRST (1-3)
#   cluster_test_environment       exports COBROWSE_TEST_CLUSTER_* for the running cluster-test
#
# Each node is a profile of its own in common.sh (cluster-test-1 … cluster-run-3: node name
# cobrowse-ct1@localhost …, own ports and data folder .run/<profile>/nodeN); the three share an
# epmd port and a HOME holding the cluster's Erlang cookie (.run/<profile>/.erlang.cookie).
# Node 1 loads deploy/rabbitmq/definitions.json; nodes 2 and 3 get it by joining node 1.
# Partition handling stays RabbitMQ's default (not compose's pause_minority): on one host
# nothing splits, and a node left alone by two kills keeps running, so the nodes brought back
# sync from it (with pause_minority it pauses, and its Mnesia and a returning node's can each
# wait for the other's tables until the boot fails).

CLUSTER_NODES=(1 2 3)

# _cluster_profile PROFILE — checks the name; sets CLUSTER_PROFILE, CLUSTER_DIR and CLUSTER_SEED.
_cluster_profile() {
    case "${1:-}" in
        cluster-test | cluster-run) ;;
        *) die "unknown cluster profile '${1:-}' (expected: cluster-test or cluster-run)" ;;
    esac
    CLUSTER_PROFILE="$1"
    CLUSTER_DIR="$COBROWSE_RUN_DIR/$1"
    _broker_profile "$1-1"
    CLUSTER_SEED="$BROKER_NODE"
}

# _cluster_node PROFILE N — the BROKER_* globals of node N (dies on a bad N).
_cluster_node() {
    [[ "${2:-}" =~ ^[1-3]$ ]] || die "no node '${2:-}' in the $1 cluster (expected 1, 2 or 3)"
    _broker_profile "$1-$2"
}

# _cluster_nodes_field FIELD — the node names in the current node's cluster_status list FIELD
# (running_nodes, disk_nodes), one a line; nothing if the node does not answer.
_cluster_nodes_field() {
    local status
    status="$(env "${BROKER_ENV[@]}" timeout 30 "$RABBITMQ_BIN_DIR/rabbitmqctl" -q cluster_status --formatter json 2>/dev/null)" ||
        return 0
    # {"disk_nodes":["a@localhost","b@localhost"],…,"running_nodes":[…],…}: node names hold no ] or ".
    sed -n "s/.*\"$1\":\[\([^]]*\)\].*/\1/p" <<<"$status" | tr -d '"' | tr ',' '\n' | sed '/^$/d'
}

# _cluster_await_running PROFILE N DEADLINE [COUNT] — waits until node N sees COUNT nodes
# running (default: all three), itself among them.
_cluster_await_running() {
    local running
    _cluster_node "$1" "$2"
    while true; do
        running="$(_cluster_nodes_field running_nodes)"
        if grep -qxF "$BROKER_NODE" <<<"$running" && (($(wc -l <<<"$running") >= ${4:-${#CLUSTER_NODES[@]}})); then
            return 0
        fi
        ((SECONDS < $3)) || return 1
        sleep 0.5
    done
}

# _cluster_join PROFILE N — makes node N (booted) a member of node 1's cluster, unless it is one;
# false (with rabbitmqctl's words) if it cannot.
_cluster_join() {
    _cluster_profile "$1"
    _cluster_node "$1" "$2"
    # A kept node (cluster-run) or a restarted one already knows node 1.
    if _cluster_nodes_field disk_nodes | grep -qxF "$CLUSTER_SEED"; then return 0; fi
    log "joining $BROKER_NODE to $CLUSTER_SEED"
    local step
    # join_cluster resets the node (its own fresh data) before joining; it needs the app stopped.
    for step in stop_app "join_cluster $CLUSTER_SEED" start_app; do
        # shellcheck disable=SC2086 # step is a command and its argument
        if ! env "${BROKER_ENV[@]}" timeout 120 "$RABBITMQ_BIN_DIR/rabbitmqctl" -q $step >>"$BROKER_DIR/join.log" 2>&1; then
            log "rabbitmqctl $step failed on $BROKER_NODE; ---- $BROKER_DIR/join.log ----"
            tail -n 20 "$BROKER_DIR/join.log" >&2 || true
            return 1
        fi
    done
}

# _cluster_grow PROFILE N — adds node N to every quorum queue that lacks it; true if it could.
# Node 1 imports definitions.json at boot, before the others have joined, so the quorum queues
# it declares have node 1 as their only member and would go down with it. (RabbitMQ 3.13's
# continuous membership reconciliation does this by itself in compose; Debian's 3.10 lacks it.)
# A no-op once done.
_cluster_grow() {
    _cluster_node "$1" "$2"
    env "${BROKER_ENV[@]}" timeout 120 "$RABBITMQ_BIN_DIR/rabbitmq-queues" -q grow "$BROKER_NODE" all \
        >>"$BROKER_DIR/join.log" 2>&1
}

# _cluster_fail PROFILE N MESSAGE — stops the whole cluster, then fails with node N's logs.
_cluster_fail() {
    cluster_stop "$1" || true
    _cluster_node "$1" "$2"
    _broker_fail "$3"
}

# _cluster_node_fail PROFILE N MESSAGE — stops node N alone (the others go on), then fails
# with its logs.
_cluster_node_fail() {
    broker_stop "$1-$2" || true
    _broker_fail "$3"
}

# _cluster_write_node_script — .run/<profile>-node: `kill N` or `start N` for programs that
# cannot source this file (the Swift tests: $COBROWSE_TEST_CLUSTER_NODE kill 2).
_cluster_write_node_script() {
    local script="$COBROWSE_RUN_DIR/$CLUSTER_PROFILE-node"
    {
        printf '#!/usr/bin/env bash\n'
        printf '# Generated by deploy/local/lib/cluster.sh: kill -9 or start node N of the %s cluster.\n' "$CLUSTER_PROFILE"
        printf 'set -euo pipefail\n'
        printf '[[ $# == 2 && ( $1 == kill || $1 == start ) ]] || { echo "usage: $0 kill|start N" >&2; exit 2; }\n'
        printf 'source %q\n' "$COBROWSE_ROOT/deploy/local/lib/common.sh"
        printf 'cluster_node_"$1" %q "$2"\n' "$CLUSTER_PROFILE"
    } >"$script"
    chmod 755 "$script"
}

# cluster_start PROFILE — starts the profile's three nodes and waits until they form one
# cluster with all three running and definitions.json loaded.
cluster_start() {
    _cluster_profile "$1"
    local profile="$1" n started=$SECONDS deadline
    _broker_check_installed

    # Leftover nodes of ours (crashed script, earlier run) are stopped first.
    cluster_stop "$profile"
    for n in "${CLUSTER_NODES[@]}"; do
        _cluster_node "$profile" "$n"
        _broker_check_ports
    done
    _cluster_node "$profile" 1
    if ((BROKER_WIPE)); then rm -rf "$CLUSTER_DIR"; fi
    mkdir -p "$CLUSTER_DIR"
    chmod 700 "$CLUSTER_DIR"
    # One cookie for all nodes and their rabbitmqctl; Erlang wants it readable by us alone. Made
    # here, not by the first VM, since three VMs start at once.
    if [[ ! -s "$CLUSTER_DIR/.erlang.cookie" ]]; then
        (umask 077 && od -An -tx1 -N20 /dev/urandom | tr -d ' \n' >"$CLUSTER_DIR/.erlang.cookie")
        chmod 400 "$CLUSTER_DIR/.erlang.cookie"
    fi
    # Likewise the shared epmd, so the three VMs do not race to start it.
    epmd -port "$BROKER_EPMD_PORT" -daemon

    # All three boot at once: quicker, and a kept cluster (cluster-run) needs it, since a node
    # that was not the last to stop waits at boot for the others.
    log "starting the $profile cluster (nodes ${CLUSTER_SEED%%[1-3]@*}1-3@localhost, epmd $BROKER_EPMD_PORT, data in $CLUSTER_DIR)"
    for n in "${CLUSTER_NODES[@]}"; do
        _cluster_node "$profile" "$n"
        _broker_launch
    done
    deadline=$((SECONDS + 90))
    for n in "${CLUSTER_NODES[@]}"; do
        _cluster_node "$profile" "$n"
        _broker_await_startup "$deadline" || _cluster_fail "$profile" "$n" "RabbitMQ node $BROKER_NODE $( (($? == 2)) && echo "exited during startup" || echo "did not finish starting within 90 s")"
    done
    for n in "${CLUSTER_NODES[@]:1}"; do
        _cluster_join "$profile" "$n" || _cluster_fail "$profile" "$n" "could not join $BROKER_NODE to $CLUSTER_SEED"
    done
    _cluster_await_running "$profile" 1 $((SECONDS + 60)) ||
        _cluster_fail "$profile" 1 "the $profile cluster does not show 3 running nodes: $(_cluster_nodes_field running_nodes | xargs)"
    for n in "${CLUSTER_NODES[@]:1}"; do
        _cluster_grow "$profile" "$n" || _cluster_fail "$profile" "$n" "rabbitmq-queues grow failed (see $BROKER_DIR/join.log)"
    done
    _cluster_node "$profile" 1
    _broker_definitions_loaded ||
        _cluster_fail "$profile" 1 "the cluster is up but deploy/rabbitmq/definitions.json was not loaded (no cobrowse user, cobrowse.ingest exchange or service users)"
    _cluster_write_node_script
    log "RabbitMQ cluster $profile is up after $((SECONDS - started)) s: AMQP $(cluster_amqp_urls "$profile" cobrowse | sed 's/:cobrowse@/:****@/g')"
}

# cluster_stop PROFILE — stops the profile's nodes and their epmd. Safe when nothing runs and
# safe to call twice; never touches another node.
cluster_stop() {
    _cluster_profile "$1"
    local n pids=()
    # In parallel: each stop waits for its VM to exit. (A cluster-run restart boots all three
    # at once, so which one stopped last does not matter.)
    for n in "${CLUSTER_NODES[@]}"; do
        broker_stop "$1-$n" &
        pids+=($!)
    done
    for n in "${pids[@]}"; do wait "$n" || true; done
    # Each stop left the shared epmd to the others; end it now that all are gone.
    _cluster_node "$1" 1
    if _port_open "$BROKER_EPMD_PORT" && ! _node_registered $BROKER_SHORTNAME $BROKER_EPMD_SIBLINGS; then
        epmd -port "$BROKER_EPMD_PORT" -kill >/dev/null 2>&1 || true
    fi
}

# cluster_node_kill PROFILE N — kill -9 of node N's Erlang VM, as a crash would; waits until
# the VM is gone and has left epmd and its ports. The node's data stays for cluster_node_start.
cluster_node_kill() {
    _cluster_profile "$1"
    _cluster_node "$1" "$2"
    local beam wrapper="" deadline=$((SECONDS + 15))
    _pid_alive "$BROKER_BEAM_PID" || die "RabbitMQ node $BROKER_NODE is not running (no live pid in $BROKER_BEAM_PID)"
    beam="$(<"$BROKER_BEAM_PID")"
    _pid_alive "$BROKER_WRAPPER_PID" && wrapper="$(<"$BROKER_WRAPPER_PID")"
    log "killing RabbitMQ node $BROKER_NODE (kill -9 of its VM, pid $beam)"
    kill -KILL "$beam"
    while _proc_running "$beam" || { [[ -n "$wrapper" ]] && _proc_running "$wrapper"; } ||
        _node_registered || _port_open "$BROKER_AMQP_PORT" || _port_open "$BROKER_DIST_PORT"; do
        ((SECONDS < deadline)) || die "RabbitMQ node $BROKER_NODE is still there 15 s after kill -9"
        sleep 0.2
    done
    rm -f "$BROKER_WRAPPER_PID" "$BROKER_BEAM_PID"
}

# cluster_node_start PROFILE N — starts node N (killed or stopped) on its data and waits until
# it runs in the cluster again, with at least one other node (the third may still be down); a
# node with no data joins node 1 afresh. On failure it stops node N alone.
cluster_node_start() {
    _cluster_profile "$1"
    _cluster_node "$1" "$2"
    local started=$SECONDS what="is back in"
    if _pid_alive "$BROKER_BEAM_PID" || _node_registered; then
        what="was already running in"
    else
        _broker_check_ports
        _broker_launch
        # A node that was not the last of the cluster to stop waits at boot for the others' data.
        _broker_await_startup $((SECONDS + 90)) || _cluster_node_fail "$1" "$2" "RabbitMQ node $BROKER_NODE $( (($? == 2)) && echo "exited during startup" || echo "did not finish starting within 90 s")"
    fi
    _cluster_join "$1" "$2" || _cluster_node_fail "$1" "$2" "could not join $BROKER_NODE to $CLUSTER_SEED"
    _cluster_await_running "$1" "$2" $((SECONDS + 60)) 2 ||
        _cluster_node_fail "$1" "$2" "node $BROKER_NODE runs but not in a cluster with another node: $(_cluster_nodes_field running_nodes | xargs)"
    # A node that came back with its data is still a member of its quorum queues; one that
    # joined afresh is not.
    _cluster_grow "$1" "$2" || _cluster_node_fail "$1" "$2" "rabbitmq-queues grow failed (see $BROKER_DIR/join.log)"
    log "RabbitMQ node $BROKER_NODE $what the $1 cluster ($((SECONDS - started)) s; running: $(_cluster_nodes_field running_nodes | xargs))"
}

# cluster_amqp_urls PROFILE USER [FIRST] — USER's URLs of the three nodes (locally each password
# is the user's name), comma-separated, from node FIRST on (default 1) and round: services start
# at different nodes, so their connections spread over the cluster.
cluster_amqp_urls() {
    local profile="$1" user="$2" first="${3:-1}" i n urls=()
    _cluster_profile "$profile"
    for ((i = 0; i < ${#CLUSTER_NODES[@]}; i++)); do
        n=$(((first - 1 + i) % ${#CLUSTER_NODES[@]} + 1))
        _cluster_node "$profile" "$n"
        if ((BROKER_TLS_ONLY)); then
            # TLS only (deploy/local/run TLS=1): the certificate names "localhost".
            urls+=("amqps://$user:$user@localhost:$BROKER_AMQP_PORT/%2F?cacertfile=$BROKER_TLS_DIR/ca.pem")
        else
            urls+=("amqp://$user:$user@127.0.0.1:$BROKER_AMQP_PORT/%2F")
        fi
    done
    (IFS=,; printf '%s\n' "${urls[*]}")
}

# cluster_test_environment — exports the COBROWSE_TEST_CLUSTER_* variables for the running
# cluster-test cluster: the administrator's URLs (node 1, 2, 3), node 1's management API and
# each node's, each node's rabbitmqctl wrapper (same order), and the kill/start script.
cluster_test_environment() {
    local n management=() ctls=()
    COBROWSE_TEST_CLUSTER_AMQP_URLS="$(cluster_amqp_urls cluster-test cobrowse)"
    for n in "${CLUSTER_NODES[@]}"; do
        _cluster_node cluster-test "$n"
        management+=("http://127.0.0.1:$BROKER_MGMT_PORT")
        ctls+=("$BROKER_CTL")
    done
    export COBROWSE_TEST_CLUSTER_AMQP_URLS
    export COBROWSE_TEST_CLUSTER_MANAGEMENT_URL="${management[0]}"
    export COBROWSE_TEST_CLUSTER_MANAGEMENT_URLS="$(IFS=,; printf '%s' "${management[*]}")"
    export COBROWSE_TEST_CLUSTER_RABBITMQCTLS="$(IFS=,; printf '%s' "${ctls[*]}")"
    export COBROWSE_TEST_CLUSTER_NODE="$COBROWSE_RUN_DIR/cluster-test-node" # kill|start N
}
