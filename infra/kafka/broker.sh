#!/usr/bin/env bash
# Runs a real Apache Kafka 4.4.0 broker (KRaft, no ZooKeeper) on 127.0.0.1 for development
# and tests, from jars that Maven resolves from infra/kafka/pom.xml. No Docker, no tarball.
# See `broker.sh --help`.
set -euo pipefail

KAFKA_VERSION=4.4.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd "$HERE/../.." && pwd -P)"
POM="$HERE/pom.xml"
PROBE="$HERE/probe.py"
CACHE="${OMIUM_KAFKA_CACHE:-$HOME/.cache/omium/kafka-$KAFKA_VERSION}"
STATE="${OMIUM_KAFKA_DIR:-$REPO/.omium/kafka}"
HOST=127.0.0.1
PORT="${OMIUM_KAFKA_PORT:-19092}"
# Controller ports follow the broker port so that a second instance with another
# OMIUM_KAFKA_PORT does not collide on the controller ports (default 19192).
CONTROLLER_PORT="${OMIUM_KAFKA_CONTROLLER_PORT:-$((PORT + 100))}"
HEAP="${OMIUM_KAFKA_HEAP:-768m}"
TIMEOUT="${OMIUM_KAFKA_TIMEOUT:-90}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# Extra broker JVM flags, split on spaces (e.g. "-XX:TieredStopAtLevel=1" for faster test starts).
read -r -a EXTRA_JVM_OPTS <<<"${OMIUM_KAFKA_JAVA_OPTS:-}"
MARKER="$CACHE/.omium-complete"
AUTH=0
# with --auth the brokers are advertised by a name their certificate holds
AUTH_HOST=localhost
AUTH_USER="${OMIUM_KAFKA_AUTH_USER:-omium}"
CLIENT_AUTH="${OMIUM_KAFKA_CLIENT_AUTH:-requested}"
# with --auth, two users besides the super user, with ACLs on the names starting with this
ACL_PREFIX="${OMIUM_KAFKA_ACL_PREFIX:-omium}"

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<EOF
usage: infra/kafka/broker.sh COMMAND [ARGS]

Runs Apache Kafka $KAFKA_VERSION in KRaft mode (combined broker+controller) on $HOST.

commands:
  up [--nodes 1|3] [--auth]   resolve jars, format storage once, start, wait until ready;
                              --auth: a SASL_SSL listener (SCRAM-SHA-512, a CA and a broker
                              certificate made under the state dir) instead of PLAINTEXT,
                              ACLs on (users reader and worker, see OMIUM_KAFKA_ACL_PREFIX),
                              and a last line OMIUM_LOG_URL='…' for the clients
  down                        stop the nodes started from this state dir (SIGTERM, then SIGKILL after 30s)
  status                      per node: pid, port, probe; exit 0 if all up, 3 otherwise
  logs [-f] [NODE]            tail a node's log (default node 1)
  clean                       down, then delete the state dir
  with [--nodes N] [--auth] -- CMD...
                              up, run CMD with OMIUM_KAFKA_BOOTSTRAP and OMIUM_KAFKA_URL set
                              (the client URL), always down; exit with CMD's code
  url                         print the client URL of the cluster in the state dir
  jars                        only resolve the jars; print the classpath dir (use as -cp "DIR/*")

environment:
  OMIUM_KAFKA_PORT     first broker port (default 19092; node i uses PORT+i-1)
  OMIUM_KAFKA_CONTROLLER_PORT  first controller port (default PORT+100 = 19192)
  OMIUM_KAFKA_DIR      state dir (default <repo>/.omium/kafka)
  OMIUM_KAFKA_CACHE    jar cache (default ~/.cache/omium/kafka-$KAFKA_VERSION)
  OMIUM_KAFKA_HEAP     max heap per node (default 768m)
  OMIUM_KAFKA_TIMEOUT  seconds to wait for readiness (default 90)
  OMIUM_KAFKA_JAVA_OPTS  extra broker JVM flags, space-separated
  OMIUM_KAFKA_AUTH_USER  with --auth: the client user made at format time (default omium);
                       its password is generated into STATE/auth/password (mode 600)
  OMIUM_KAFKA_CLIENT_AUTH  with --auth: requested (default) or required (mutual TLS: every
                       client must send a certificate the CA signed; the URL names one)
  OMIUM_KAFKA_ACL_PREFIX  with --auth: the users reader and worker (made at format time,
                       passwords in STATE/auth/USER.password) get ACLs on the topics and
                       groups whose names start with it (default omium: the names of the
                       default topic_prefix, and of any topic_prefix starting with omium):
                       reader Read and Describe on the topics only; worker what
                       docs/kafka-security.md says a worker needs
EOF
}

# ---------------------------------------------------------------- jars

pom_sha() { sha256sum "$POM" | cut -d' ' -f1; }

# The marker carries the pom's hash so that editing the pom re-resolves on the next run.
jars_ok() { [[ -f "$MARKER" ]] && grep -qx "pom-sha256=$(pom_sha)" "$MARKER"; }

resolve_jars() {
  jars_ok && return 0
  command -v mvn >/dev/null || die "mvn not found; Maven is needed once to fetch Kafka's jars"
  command -v flock >/dev/null || die "flock not found (Debian package util-linux)"
  mkdir -p "$(dirname "$CACHE")"
  # Two shells running `up` for the first time at once must not both rewrite the cache.
  exec 8>"$CACHE.lock"
  flock 8
  if ! jars_ok; then
    say "resolving Kafka $KAFKA_VERSION jars with Maven into $CACHE (first run, or after a pom change)" >&2
    # copy-dependencies never deletes stale jars, so resolve into a fresh dir and swap it in:
    # two versions of one library on a "dir/*" classpath is a silent, nasty bug.
    local tmp="$CACHE.tmp.$$" out
    rm -rf "$tmp"
    if ! out="$(mvn -q -B -f "$POM" dependency:copy-dependencies \
                 -DoutputDirectory="$tmp" -DincludeScope=runtime 2>&1)"; then
      printf '%s\n' "$out" >&2
      rm -rf "$tmp"
      die "mvn failed to resolve the jars (output above)"
    fi
    ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || die "mvn produced no kafka_2.13 jar in $tmp"
    printf 'pom-sha256=%s\nkafka=%s\njars=%s\n' "$(pom_sha)" "$KAFKA_VERSION" "$(find "$tmp" -name '*.jar' | wc -l)" >"$tmp/.omium-complete"
    rm -rf "$CACHE"
    mv "$tmp" "$CACHE"
  fi
  flock -u 8
  exec 8>&-
}

check_java() {
  command -v "$JAVA" >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
  local v
  v="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [[ "${v%%.*}" -ge 17 ]] 2>/dev/null || die "Kafka $KAFKA_VERSION needs Java 17+, $JAVA is ${v:-unknown}"
}

# Kafka's command-line tools, quiet (warnings to stderr only). C1-only + SerialGC: a
# short-lived tool JVM then needs ~40% less CPU, which matters on 2 cores.
kafka_tool() {
  "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$HERE/tools-log4j2.xml" -cp "$CACHE/*" "$@"
}

# ---------------------------------------------------------------- nodes

node_dir() { echo "$STATE/node-$1"; }
node_port() { echo $((PORT + $1 - 1)); }
node_cport() { echo $((CONTROLLER_PORT + $1 - 1)); }
node_pidfile() { echo "$(node_dir "$1")/kafka.pid"; }
node_log() { echo "$(node_dir "$1")/kafka.log"; }

# Node count the state dir was formatted for, or empty.
state_nodes() {
  if [[ -f "$STATE/cluster.env" ]]; then sed -n 's/^NODES=//p' "$STATE/cluster.env"; fi
}

# Ids of nodes that have a pid file (whatever the configured count).
pidfile_nodes() {
  local f
  for f in "$STATE"/node-*/kafka.pid; do
    [[ -e "$f" ]] || continue
    f="${f%/kafka.pid}"
    echo "${f##*/node-}"
  done | sort -n
}

# Pid of node $1 if it is alive AND is really our broker: the cmdline check guards
# against a stale pid file whose pid was reused by an unrelated process.
live_pid() {
  local pf pid
  pf="$(node_pidfile "$1")"
  [[ -f "$pf" ]] || return 1
  pid="$(cat "$pf" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $(node_dir "$1")/server.properties" || return 1
  echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

write_config() {
  local i="$1" n="$2" d voters="" j
  d="$(node_dir "$i")"
  for ((j = 1; j <= n; j++)); do voters+="${voters:+,}$j@$HOST:$(node_cport "$j")"; done
  mkdir -p "$d/data"
  # Rewritten on every `up` so port/env changes apply; the data dir keeps no ports.
  cat >"$d/server.properties" <<EOF
# Generated by infra/kafka/broker.sh on every 'up'; edits are overwritten.
process.roles=broker,controller
node.id=$i
# Static quorum: formatted without --standalone/--initial-controllers (those are for dynamic quorums).
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
$(listener_config "$i")
log.dirs=$d/data
num.partitions=3
# Tests create their topics explicitly; a typo must fail, not create a topic.
auto.create.topics.enable=false
# Consumer groups start at once instead of after 3s (the production default).
group.initial.rebalance.delay.ms=0
# Fewer __consumer_offsets partitions than the default 50: the first group join is faster.
offsets.topic.num.partitions=10
EOF
  if ((n == 1)); then
    cat >>"$d/server.properties" <<EOF
# One node: internal topics cannot have more replicas than brokers.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
  else
    cat >>"$d/server.properties" <<EOF
# Three nodes: acks=all survives one node down.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
EOF
  fi
}

# The client listener: PLAINTEXT, or with --auth SASL_SSL (SCRAM-SHA-512 for clients and
# between brokers, the generated certificate, ACLs on). The controllers keep a listener of
# their own on 127.0.0.1: PLAINTEXT, or with --auth mutual TLS (so that no client reaches
# them as a super user).
listener_config() {
  local i="$1" a="$STATE/auth"
  if ((AUTH)); then
    cat <<EOF
listeners=SASL_SSL://$HOST:$(node_port "$i"),CONTROLLER://$HOST:$(node_cport "$i")
# advertised by name: the certificate is for DNS:$AUTH_HOST (hostname verification stays on)
advertised.listeners=SASL_SSL://$AUTH_HOST:$(node_port "$i")
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
# ACLs: only the super users (the brokers' SCRAM user admin, the controllers by their
# certificate, and the client user) may do anything no ACL grants (see make_acls)
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:CN=$AUTH_HOST;User:$AUTH_USER
# the controllers speak mutual TLS with the broker certificate; they connect to each
# other by address (127.0.0.1), which the certificate does not name: the CA check stays,
# the host name check is off on this listener only
listener.name.controller.ssl.client.auth=required
listener.name.controller.ssl.endpoint.identification.algorithm=
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(cat "$a/admin.password")";
ssl.keystore.type=PEM
ssl.keystore.location=$a/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$a/ca.pem
# mutual TLS: requested (a certificate is asked for, not needed) or required; on a
# SASL_SSL listener Kafka ignores ssl.client.auth unless prefixed with the listener (KIP-684)
listener.name.sasl_ssl.ssl.client.auth=$CLIENT_AUTH
EOF
  else
    cat <<EOF
listeners=PLAINTEXT://$HOST:$(node_port "$i"),CONTROLLER://$HOST:$(node_cport "$i")
advertised.listeners=PLAINTEXT://$HOST:$(node_port "$i")
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
EOF
  fi
}

# With --auth, once per state dir: passwords for the inter-broker user `admin` and the
# client user, a CA, a broker certificate for DNS:$AUTH_HOST (one for every node, all on
# this host) and a client certificate for mutual TLS, all signed by the CA. openssl only.
make_auth() {
  local a="$STATE/auth"
  [[ -f "$a/.complete" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found (needed by --auth for the certificates)"
  rm -rf "$a"
  mkdir -p "$a"
  (
    umask 077
    cd "$a"
    openssl rand -hex 24 >admin.password
    openssl rand -hex 24 >password
    openssl rand -hex 24 >reader.password
    openssl rand -hex 24 >worker.password
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.pem \
      -subj "/CN=omium test CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    local who cn usage
    for who in broker client; do
      cn="$AUTH_USER" usage=clientAuth
      [[ $who == broker ]] && cn="$AUTH_HOST" usage=serverAuth,clientAuth
      openssl req -newkey rsa:2048 -nodes -keyout "$who.key" -out "$who.csr" \
        -subj "/CN=$cn" 2>/dev/null
      printf 'subjectAltName=DNS:%s\nextendedKeyUsage=%s\n' "$AUTH_HOST" "$usage" >"$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
        -extfile "$who.ext" -out "$who.crt" 2>/dev/null
      rm -f "$who.csr" "$who.ext"
    done
    # Kafka's PEM keystore: the (unencrypted PKCS#8) key, then the certificate chain
    cat broker.key broker.crt ca.pem >broker.pem
    chmod 644 ca.pem client.crt
    touch .complete
  ) || die "making the certificates under $a failed"
}

# The URL clients use: plain, or every --auth setting (the password stays in its file);
# `client_url N USER` is the URL of user reader or worker.
client_url() {
  local i bootstrap="" host="$HOST" user="$AUTH_USER" pwfile=password
  [[ -n "${2:-}" ]] && user="$2" pwfile="$2.password"
  ((AUTH)) && host="$AUTH_HOST"
  for ((i = 1; i <= $1; i++)); do bootstrap+="${bootstrap:+,}$host:$(node_port "$i")"; done
  if ((AUTH)); then
    local a="$STATE/auth" mtls=""
    [[ "$CLIENT_AUTH" == required ]] && mtls="&ssl_certfile=$a/client.crt&ssl_keyfile=$a/client.key"
    echo "kafka://$user@$bootstrap?security_protocol=SASL_SSL&sasl_mechanism=SCRAM-SHA-512&ssl_cafile=$a/ca.pem&password_file=$a/$pwfile$mtls"
  else
    echo "kafka://$bootstrap"
  fi
}

probe_args() {
  ((AUTH)) || return 0
  printf '%s\n' --tls-ca "$STATE/auth/ca.pem" --tls-hostname "$AUTH_HOST" \
    --tls-cert "$STATE/auth/client.crt" --tls-key "$STATE/auth/client.key" \
    --sasl-user admin --sasl-password-file "$STATE/auth/admin.password"
}

# The ACLs of users reader and worker, once per state dir (ACLs live in the metadata log),
# on the names starting with ACL_PREFIX: reader may Read and Describe the topics, nothing
# else (it assigns partitions itself and commits nothing: no group); worker gets the
# worker row of docs/kafka-security.md. Kafka's AclCommand as admin, the three at once.
make_acls() {
  local a="$STATE/auth" i
  [[ -f "$a/.acls" ]] && return 0
  (
    umask 077
    cat >"$a/admin.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(cat "$a/admin.password")";
ssl.truststore.type=PEM
ssl.truststore.location=$a/ca.pem
EOF
  )
  local -a grants=(
    "reader --topic $ACL_PREFIX --operation Read --operation Describe"
    "worker --topic $ACL_PREFIX --operation Read --operation Write --operation Describe --operation Create"
    "worker --group $ACL_PREFIX --operation Read"
  )
  local -a pids=() args
  for i in "${!grants[@]}"; do
    read -r -a args <<<"${grants[$i]}"
    kafka_tool org.apache.kafka.tools.AclCommand --bootstrap-server "$AUTH_HOST:$(node_port 1)" \
      --command-config "$a/admin.properties" --add --allow-principal "User:${args[0]}" \
      "${args[@]:1}" --resource-pattern-type prefixed >"$a/acl-$i.out" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      cat "$a/acl-$i.out" >&2
      die "granting ACLs (${grants[$i]}) failed (output above)"
    fi
  done
  printf 'PREFIX=%s\n' "$ACL_PREFIX" >"$a/.acls"
}

# Formats the nodes whose data dir is not formatted yet. StorageTool costs a JVM start
# (~1.5 s of CPU each), so the nodes are formatted in parallel.
format_nodes() {
  local cid="$1" i d
  shift
  local -A jobs=()
  local -a scram=()
  # KRaft keeps SCRAM credentials in the metadata log: they are written at format time
  if ((AUTH)); then
    scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$STATE/auth/admin.password")]"
      --add-scram "SCRAM-SHA-512=[name=$AUTH_USER,password=$(cat "$STATE/auth/password")]"
      --add-scram "SCRAM-SHA-512=[name=reader,password=$(cat "$STATE/auth/reader.password")]"
      --add-scram "SCRAM-SHA-512=[name=worker,password=$(cat "$STATE/auth/worker.password")]")
  fi
  for i in "$@"; do
    d="$(node_dir "$i")"
    [[ -f "$d/data/meta.properties" ]] && continue
    kafka_tool kafka.tools.StorageTool format -t "$cid" -c "$d/server.properties" \
      "${scram[@]}" >"$d/format.out" 2>&1 &
    jobs[$i]=$!
  done
  for i in "${!jobs[@]}"; do
    if ! wait "${jobs[$i]}"; then
      cat "$(node_dir "$i")/format.out" >&2
      die "formatting storage of node $i failed"
    fi
  done
}

# Kafka's cluster id format (what `StorageTool random-uuid` prints, without its JVM start):
# a random UUID in unpadded URL-safe base64, never starting with '-' (it would look like a flag).
new_cluster_id() {
  python3 -c 'import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not s.startswith("-"):
        print(s)
        break'
}

start_node() {
  local i="$1" d log pid
  d="$(node_dir "$i")"
  log="$(node_log "$i")"
  printf '\n===== %s starting node %s (broker.sh up) =====\n' "$(date -u +%FT%TZ)" "$i" >>"$log"
  # setsid: the broker must not get the terminal's Ctrl-C while `with` runs a command;
  # `down` is the one that stops it. GC flags as in Kafka's kafka-run-class.sh.
  setsid "$JAVA" -Xms256m -Xmx"$HEAP" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true "${EXTRA_JVM_OPTS[@]}" \
    -Dlog4j2.configurationFile="$HERE/log4j2.xml" -Domium.kafka.log.file="$log" \
    -cp "$CACHE/*" kafka.Kafka "$d/server.properties" >>"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(node_pidfile "$i")"
}

# SIGTERM lets Kafka shut down cleanly (no log recovery on the next start); SIGKILL after 30s.
stop_pids() {
  local -a pids=("$@")
  local p deadline=$((SECONDS + 30)) alive
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while :; do
    alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    ((${#alive[@]})) || return 0
    if ((SECONDS >= deadline)); then
      say "still running after 30s, sending SIGKILL to ${alive[*]}" >&2
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 0.5
      return 0
    fi
    sleep 0.2
  done
}

stop_nodes() {
  local i pid
  local -a pids=() ids=()
  for i in "$@"; do
    if pid="$(live_pid "$i")"; then pids+=("$pid"); ids+=("$i"); fi
  done
  stop_pids "${pids[@]}"
  for i in "$@"; do rm -f "$(node_pidfile "$i")"; done
  ((${#ids[@]})) && say "stopped node(s) ${ids[*]} (pids ${pids[*]})"
  return 0
}

print_tail() {
  local i
  for i in "$@"; do
    printf '\n----- last 40 lines of %s -----\n' "$(node_log "$i")"
    tail -n 40 "$(node_log "$i")" 2>/dev/null || true
  done >&2
}

# ---------------------------------------------------------------- commands

parse_nodes() {
  NODES=1
  AUTH=0
  while (($#)); do
    case "$1" in
      --auth) AUTH=1; shift ;;
      --nodes) [[ $# -ge 2 ]] || die "--nodes needs a value"; NODES="$2"; shift 2 ;;
      --nodes=*) NODES="${1#--nodes=}"; shift ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [[ "$NODES" == 1 || "$NODES" == 3 ]] || die "--nodes must be 1 or 3, got $NODES"
}

cmd_up() {
  parse_nodes "$@"
  local n="$NODES" i cid formatted pid start=$SECONDS
  check_java
  resolve_jars

  mkdir -p "$STATE"
  formatted="$(state_nodes)"
  if [[ -n "$formatted" && "$formatted" != "$n" ]]; then
    die "$STATE was formatted for $formatted node(s), not $n; run 'infra/kafka/broker.sh clean' first"
  fi
  if [[ -n "$formatted" && "$(state_auth)" != "$AUTH" ]]; then
    die "$STATE was formatted $( (($(state_auth))) && echo with || echo without) --auth; run 'infra/kafka/broker.sh clean' first"
  fi
  if [[ -f "$STATE/cluster.env" ]]; then
    cid="$(sed -n 's/^CLUSTER_ID=//p' "$STATE/cluster.env")"
  else
    cid="$(new_cluster_id)"
    printf 'CLUSTER_ID=%s\nNODES=%s\nAUTH=%s\n' "$cid" "$n" "$AUTH" >"$STATE/cluster.env"
  fi
  if ((AUTH)); then make_auth; fi
  local -a probe_extra
  mapfile -t probe_extra < <(probe_args)

  # If anything below fails, on_exit stops the nodes this invocation started (only those).
  UP_DONE=0
  local -a todo=()
  for ((i = 1; i <= n; i++)); do
    if pid="$(live_pid "$i")"; then
      say "node $i already running (pid $pid)"
      continue
    fi
    rm -f "$(node_pidfile "$i")"
    local p
    for p in "$(node_port "$i")" "$(node_cport "$i")"; do
      if port_busy "$p"; then
        die "port $HOST:$p is used by another process (another Kafka? set OMIUM_KAFKA_PORT)"
      fi
    done
    write_config "$i" "$n"
    todo+=("$i")
  done
  ((${#todo[@]} == 0)) || format_nodes "$cid" "${todo[@]}"
  # All nodes start together: each one's broker waits for the controller quorum anyway.
  for i in "${todo[@]}"; do
    UP_STARTED+=("$i")
    start_node "$i"
  done

  # Ready = every node answers Metadata and lists all N brokers (a fenced broker is not listed).
  local deadline=$((SECONDS + TIMEOUT)) ready err last_err=""
  while :; do
    ready=0
    for ((i = 1; i <= n; i++)); do
      if ! live_pid "$i" >/dev/null; then
        print_tail "$i"
        die "node $i exited during startup (log: $(node_log "$i"))"
      fi
      # A short probe per round, so that a node dying is noticed within a second.
      if err="$(python3 "$PROBE" "$HOST:$(node_port "$i")" --expect-brokers "$n" --timeout 1 -q "${probe_extra[@]}" 2>&1)"; then
        ready=$((ready + 1))
      else
        last_err="node $i: $err"
      fi
    done
    ((ready == n)) && break
    if ((SECONDS >= deadline)); then
      print_tail $(seq 1 "$n")
      printf 'last failed probe: %s\n' "$last_err" >&2
      die "not ready after ${TIMEOUT}s (OMIUM_KAFKA_TIMEOUT)"
    fi
    sleep 0.5
  done
  UP_DONE=1

  local bootstrap=""
  for ((i = 1; i <= n; i++)); do bootstrap+="${bootstrap:+,}$HOST:$(node_port "$i")"; done
  say "ready in $((SECONDS - start))s; logs: $STATE/node-*/kafka.log"
  if ((AUTH)); then
    make_acls
    echo "kafka up: $n node(s) at $bootstrap (kafka $KAFKA_VERSION, KRaft, SASL_SSL SCRAM-SHA-512 user $AUTH_USER)"
    echo "ACL users (docs/kafka-security.md), on names '$ACL_PREFIX*': reader (Read, Describe topics) $(client_url "$n" reader) ; worker $(client_url "$n" worker)"
    # single-quoted: the URL holds '&'; `eval "export $(… | tail -1)"` works as is
    echo "OMIUM_LOG_URL='$(client_url "$n")'"
  else
    echo "kafka up: $n node(s) at $bootstrap (kafka $KAFKA_VERSION, KRaft)"
    echo "kafka://$bootstrap"
  fi
}

state_auth() {
  local a=""
  if [[ -f "$STATE/cluster.env" ]]; then a="$(sed -n 's/^AUTH=//p' "$STATE/cluster.env")"; fi
  echo "${a:-0}"
}

cmd_url() {
  (($# == 0)) || die "url takes no arguments"
  local n
  n="$(state_nodes)"
  [[ -n "$n" ]] || die "not set up (no $STATE/cluster.env); run 'infra/kafka/broker.sh up'"
  AUTH="$(state_auth)"
  client_url "$n"
}

cmd_down() {
  (($# == 0)) || die "down takes no arguments"
  local -a ids
  mapfile -t ids < <(pidfile_nodes)
  local i any=0
  for i in "${ids[@]}"; do live_pid "$i" >/dev/null && any=1; done
  if ((any == 0)); then
    for i in "${ids[@]}"; do rm -f "$(node_pidfile "$i")"; done
    say "nothing running (state dir $STATE)"
    return 0
  fi
  stop_nodes "${ids[@]}"
}

cmd_status() {
  (($# == 0)) || die "status takes no arguments"
  local n i pid all=0 probe
  n="$(state_nodes)"
  if [[ -z "$n" ]]; then
    say "not set up (no $STATE/cluster.env); run 'infra/kafka/broker.sh up'"
    return 3
  fi
  AUTH="$(state_auth)"
  local -a probe_extra
  mapfile -t probe_extra < <(probe_args)
  for ((i = 1; i <= n; i++)); do
    if pid="$(live_pid "$i")"; then
      if probe="$(python3 "$PROBE" "$HOST:$(node_port "$i")" --expect-brokers "$n" --timeout 2 "${probe_extra[@]}" 2>&1)"; then
        echo "node $i: running pid $pid port $(node_port "$i") probe ok (${probe#ready })"
        all=$((all + 1))
      else
        echo "node $i: running pid $pid port $(node_port "$i") probe FAILED (${probe#not ready })"
      fi
    else
      echo "node $i: not running (port $(node_port "$i"))"
    fi
  done
  ((all == n)) && return 0 || return 3
}

cmd_logs() {
  local follow="" node=1
  while (($#)); do
    case "$1" in
      -f | --follow) follow=1; shift ;;
      [0-9]*) node="$1"; shift ;;
      *) die "usage: broker.sh logs [-f] [NODE]" ;;
    esac
  done
  local log
  log="$(node_log "$node")"
  [[ -f "$log" ]] || die "no log for node $node at $log"
  if [[ -n "$follow" ]]; then exec tail -n 100 -F "$log"; else tail -n 100 "$log"; fi
}

cmd_clean() {
  cmd_down
  if [[ -d "$STATE" ]]; then
    rm -rf "$STATE"
    say "deleted $STATE"
  fi
}

cmd_with() {
  local -a up_args=()
  while (($#)) && [[ "$1" != "--" ]]; do up_args+=("$1"); shift; done
  [[ "${1:-}" == "--" ]] || die "usage: broker.sh with [--nodes N] [--auth] -- CMD [ARGS...]"
  shift
  (($#)) || die "with: no command given after --"
  parse_nodes "${up_args[@]}"
  # on_exit runs `down` whether up fails halfway, CMD fails, or we get Ctrl-C / SIGTERM.
  WITH_MODE=1
  cmd_up "${up_args[@]}"
  local i bootstrap="" url host="$HOST"
  ((AUTH)) && host="$AUTH_HOST" # the name in the brokers' certificate
  for ((i = 1; i <= NODES; i++)); do bootstrap+="${bootstrap:+,}$host:$(node_port "$i")"; done
  url="$(client_url "$NODES")"
  # CMD runs in the background so that a SIGTERM to this script (a CI timeout) is handled
  # at once and forwarded; bash would otherwise defer its traps until CMD ends by itself.
  # Async commands would lose the terminal's stdin (pdb...) and ignore SIGINT, so `0<&0`
  # keeps stdin and `trap - INT QUIT` makes Ctrl-C work again (the terminal sends SIGINT to
  # CMD's process group itself; the brokers, started with setsid, don't get it).
  local rc=0 cmd_pid
  # CI may run us with stdin closed, where `0<&0` itself would fail.
  if ! { exec 9<&0; } 2>/dev/null; then exec 9</dev/null; fi
  (
    export OMIUM_KAFKA_BOOTSTRAP="$bootstrap" OMIUM_KAFKA_URL="$url"
    trap - INT QUIT TERM EXIT
    exec "$@" 9<&-
  ) 0<&9 &
  cmd_pid=$!
  exec 9<&-
  trap 'kill -TERM "$cmd_pid" 2>/dev/null || true' TERM
  trap ':' INT
  while :; do
    rc=0
    wait "$cmd_pid" || rc=$?
    kill -0 "$cmd_pid" 2>/dev/null || break # else wait was only interrupted by a signal
  done
  exit "$rc"
}

cmd_jars() {
  (($# == 0)) || die "jars takes no arguments"
  resolve_jars
  echo "$CACHE"
}

UP_STARTED=()
UP_DONE=1
WITH_MODE=0
# One EXIT trap for every way out (die, set -e, signals): functions don't inherit ERR traps,
# and `die` exits directly, so this is the only reliable place to clean up.
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if ((WITH_MODE)); then
    cmd_down >&2 || true
  elif ((!UP_DONE && ${#UP_STARTED[@]})); then
    say "up failed; stopping node(s) ${UP_STARTED[*]} started by it" >&2
    stop_nodes "${UP_STARTED[@]}" >&2 || true
  fi
  exit "$rc"
}

main() {
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local cmd="${1:-}"
  (($#)) && shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    logs) cmd_logs "$@" ;;
    clean) cmd_clean "$@" ;;
    with) cmd_with "$@" ;;
    jars) cmd_jars "$@" ;;
    url) cmd_url "$@" ;;
    "" | -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
