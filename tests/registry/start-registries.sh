#!/usr/bin/env bash
# Start loopback OCI registries (Debian's docker-registry, distribution v2) for Stella's tests.
#
# Three registries share one storage directory, so an image pushed to any of them is served by
# all three:
#   anon   no authentication
#   basic  htpasswd (HTTP Basic) authentication
#   token  bearer-token authentication (auth.token); its token issuer is NOT started here: the
#          test that needs it runs one on the issuer port, signing ES256 JWTs with the key this
#          script writes (STELLA_REGISTRY_TOKEN_KEY, certificate STELLA_REGISTRY_TOKEN_CERT).
#
# Usage: start-registries.sh [--state-dir DIR] [--anon-port N] [--basic-port N]
#                            [--token-port N] [--issuer-port N]
#   Ports default to free ones. DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/stella/registry.
#   When DIR already holds running registries (and no port was given) they are reused.
#   Writes DIR/registries.env (shell syntax, mode 600) and prints its path on stdout.
#   Stop them with stop-registries.sh DIR.
set -euo pipefail

state_dir="${XDG_CACHE_HOME:-$HOME/.cache}/stella/registry"
anon_port="" basic_port="" token_port="" issuer_port=""
ports_given=0
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) state_dir="$2"; shift 2 ;;
    --anon-port) anon_port="$2"; ports_given=1; shift 2 ;;
    --basic-port) basic_port="$2"; ports_given=1; shift 2 ;;
    --token-port) token_port="$2"; ports_given=1; shift 2 ;;
    --issuer-port) issuer_port="$2"; ports_given=1; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "start-registries.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

registry_bin="${STELLA_DOCKER_REGISTRY:-/usr/bin/docker-registry}"
for tool in "$registry_bin" htpasswd openssl; do
  command -v "$tool" >/dev/null || { echo "start-registries.sh: $tool not found (apt-get install docker-registry apache2-utils openssl)" >&2; exit 3; }
done

mkdir -p "$state_dir"
state_dir="$(cd "$state_dir" && pwd)"
env_file="$state_dir/registries.env"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Reuse registries already running from this state dir.
if [ "$ports_given" = 0 ] && [ -f "$env_file" ]; then
  # shellcheck disable=SC1090
  . "$env_file"
  alive=1
  for pid in ${STELLA_REGISTRY_PIDS:-}; do kill -0 "$pid" 2>/dev/null || alive=0; done
  for hp in "${STELLA_REGISTRY_ANON:-x}" "${STELLA_REGISTRY_BASIC:-x}" "${STELLA_REGISTRY_TOKEN:-x}"; do
    port_open "${hp##*:}" || alive=0
  done
  if [ "$alive" = 1 ] && [ -n "${STELLA_REGISTRY_PIDS:-}" ]; then
    echo "start-registries.sh: reusing registries from $env_file" >&2
    echo "$env_file"
    exit 0
  fi
fi
# Stop leftovers of an earlier run from this state dir before starting anew.
bash "$(dirname "$0")/stop-registries.sh" "$state_dir"

picked=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    case "$picked" in *" $p "*) continue ;; esac
    if ! port_open "$p"; then picked="$picked$p "; echo "$p"; return 0; fi
  done
  echo "start-registries.sh: no free port found" >&2; return 1
}

mkdir -p "$state_dir/storage" "$state_dir/token" "$state_dir/logs"
: >"$state_dir/pids"

# Basic auth: bcrypt htpasswd with a fresh password per state dir.
user="stella"
if [ -f "$state_dir/basic-password" ]; then
  password="$(cat "$state_dir/basic-password")"
else
  password="$(openssl rand -hex 16)"
  (umask 077; printf '%s' "$password" >"$state_dir/basic-password")
fi
htpasswd -Bbn "$user" "$password" >"$state_dir/htpasswd" 2>/dev/null

# Token auth: an EC P-256 key (PKCS#8) and a self-signed certificate, the registry's root bundle.
service="stella-test-registry"
issuer="stella-test-issuer"
if [ ! -f "$state_dir/token/key.pem" ] || [ ! -f "$state_dir/token/cert.pem" ]; then
  (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$state_dir/token/key.pem" 2>/dev/null)
  openssl req -x509 -new -key "$state_dir/token/key.pem" -subj "/CN=$issuer" -days 3650 \
    -out "$state_dir/token/cert.pem" 2>/dev/null
fi

[ -n "$issuer_port" ] || issuer_port="$(free_port)"
picked="$picked$issuer_port "

write_config() { # name port
  local name="$1" port="$2" auth=""
  case "$name" in
    basic) auth="auth:
  htpasswd:
    realm: stella-test
    path: $state_dir/htpasswd" ;;
    token) auth="auth:
  token:
    realm: http://127.0.0.1:$issuer_port/token
    service: $service
    issuer: $issuer
    rootcertbundle: $state_dir/token/cert.pem" ;;
  esac
  cat >"$state_dir/$name.yml" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $state_dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: stella-test-$name
$auth
YAML
}

start_one() { # name requested-port -> prints the port it listens on
  local name="$1" port="$2" fixed=1 pid
  [ -n "$port" ] || fixed=0
  for _ in 1 2 3 4 5; do
    [ "$fixed" = 1 ] || port="$(free_port)"
    write_config "$name" "$port"
    nohup "$registry_bin" serve "$state_dir/$name.yml" >"$state_dir/logs/$name.log" 2>&1 </dev/null &
    pid=$!
    for _ in $(seq 1 100); do
      if port_open "$port" && kill -0 "$pid" 2>/dev/null; then
        echo "$pid" >>"$state_dir/pids"; echo "$port"; return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    if [ "$fixed" = 1 ]; then break; fi
  done
  echo "start-registries.sh: registry '$name' did not start; log $state_dir/logs/$name.log:" >&2
  tail -n 20 "$state_dir/logs/$name.log" >&2 || true
  return 1
}

anon_port="$(start_one anon "$anon_port")"
basic_port="$(start_one basic "$basic_port")"
token_port="$(start_one token "$token_port")"

tmp="$env_file.tmp"
(umask 077; cat >"$tmp" <<ENV
STELLA_REGISTRY_STATE='$state_dir'
STELLA_REGISTRY_STORAGE='$state_dir/storage'
STELLA_REGISTRY_ANON='127.0.0.1:$anon_port'
STELLA_REGISTRY_BASIC='127.0.0.1:$basic_port'
STELLA_REGISTRY_BASIC_USER='$user'
STELLA_REGISTRY_BASIC_PASSWORD='$password'
STELLA_REGISTRY_TOKEN='127.0.0.1:$token_port'
STELLA_REGISTRY_TOKEN_REALM='http://127.0.0.1:$issuer_port/token'
STELLA_REGISTRY_TOKEN_ISSUER_PORT='$issuer_port'
STELLA_REGISTRY_TOKEN_SERVICE='$service'
STELLA_REGISTRY_TOKEN_ISSUER='$issuer'
STELLA_REGISTRY_TOKEN_KEY='$state_dir/token/key.pem'
STELLA_REGISTRY_TOKEN_CERT='$state_dir/token/cert.pem'
STELLA_REGISTRY_PIDS='$(tr '\n' ' ' <"$state_dir/pids" | sed 's/ $//')'
ENV
)
mv "$tmp" "$env_file"
echo "$env_file"
