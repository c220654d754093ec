#!/usr/bin/env bash
# A local lab of real stapling servers on 127.0.0.1 (and ::1), used by the
# README's run command and by the integration tests.
#
#   scripts/lab.sh up DIR [PORT_BASE]   build a PKI, start the servers, write DIR/exporter.toml
#   scripts/lab.sh down DIR             stop every server the lab started
#
# PKI (openssl CLI, dated relative to now): root CA -> issuing CA -> leaves;
# a delegated OCSP responder certificate (id-kp-OCSPSigning) signed by the
# issuing CA; an `openssl ca` index that the `openssl ocsp` responder serves.
#
# Servers (PORT_BASE = B, default 18440):
#   B+0  openssl ocsp responder (the leaves' AIA OCSP URL)
#   B+1  nginx, ssl_stapling on (fetches from the responder), Must-Staple cert; also on [::1]
#   B+2  nginx, ssl_stapling_file with the revoked certificate's response (keyCompromise)
#   B+3  nginx, no stapling, plain certificate
#   B+4  nginx, no stapling, Must-Staple certificate (the page-worthy case)
#   B+5  openssl s_server -status_file with an expired response
#   B+6  openssl s_server -status_file with a response for another certificate,
#        served with an expired certificate
#   B+7  openssl s_server -status_file with an "unknown" response (cert not in the
#        index), TLS 1.2 only, leaf only without chain (issuer from ca_file)
#   B+8  nothing listens (a probe that cannot connect)
#   B+9  openssl ocsp responder signing with a certificate the issuing CA did not authorise
#   B+10 nginx over plain HTTP: the issuing CA's CRLs (pki/crl: ca.crl, delta.crl)
#   B+11 HAProxy, TCP round-robin over B+1 (staples) and B+4 (does not): every
#        second handshake carries a staple (a fleet with one bad backend)
# B+3 also serves, by SNI (*.lab.test), certificates without an OCSP URL whose
# CRL Distribution Point is B+10 (as Let's Encrypt issues since 2025):
# crlonly (good), crlrevoked (in the base CRL), deltarevoked (in the delta
# CRL only), held (on hold in the base CRL, removeFromCRL in the delta),
# mustnoocsp (Must-Staple without an OCSP URL: can never be stapled), and
# ocspandcrl (both URLs, stapled by nginx).
# Staple files in DIR/staples: good, revoked, expired, garbage (and a missing one).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 up|down DIR [PORT_BASE]" >&2; exit 2; }

stop_all() {
  [ -f "$dir/pids" ] || return 0
  while read -r pid name; do
    kill "$pid" 2>/dev/null || true
  done < "$dir/pids"
  # Bounded wait for them to exit, then force.
  for _ in $(seq 1 50); do
    alive=0
    while read -r pid name; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$dir/pids"
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  while read -r pid name; do kill -9 "$pid" 2>/dev/null || true; done < "$dir/pids"
  rm -f "$dir/pids"
}

if [ "$cmd" = down ]; then
  stop_all
  exit 0
fi
[ "$cmd" = up ] || { echo "unknown command $cmd" >&2; exit 2; }

base=${3:-18440}
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)
stop_all
for port in $(seq "$base" $((base + 11))); do
  if [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
    echo "lab: port $port is already in use (another lab? stop it with '$0 down DIR'," \
      "or choose other ports with PORT_BASE / OSE_LAB_PORT_BASE)" >&2
    exit 1
  fi
done
rm -rf "$dir/pki" "$dir/nginx" "$dir/logs"
mkdir -p "$dir/pki/newcerts" "$dir/nginx/tmp" "$dir/logs"
cd "$dir/pki"

ocsp_port=$base
ocsp_url="http://127.0.0.1:$ocsp_port"
crl_url="http://127.0.0.1:$((base + 10))"

# --- PKI -------------------------------------------------------------------
touch index.txt delta-index.txt
echo 1000 > serial
echo 01 > crlnumber
cat > ca.cnf <<CNF
[ ca ]
default_ca = issuing
[ issuing ]
dir = $dir/pki
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = 30
policy = any
copy_extensions = none
unique_subject = no
[ crl_base ]
freshestCRL = URI:$crl_url/delta.crl
[ crl_delta ]
# Delta CRL Indicator (RFC 5280 5.2.4): the base CRL is number 1.
deltaCRL = critical,DER:02:01:01
[ any ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_issuing ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_ocsp ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
# Leaf profiles: what every server certificate has, plus the lines given.
leaf_profile() {  # name extension-lines...
  printf '[ %s ]\n' "$1"
  shift
  printf '%s\n' "basicConstraints = critical,CA:FALSE" "keyUsage = critical,digitalSignature" \
    "extendedKeyUsage = serverAuth" "subjectKeyIdentifier = hash" \
    "authorityKeyIdentifier = keyid" "$@"
}
{
  leaf_profile v3_leaf "subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1" \
    "authorityInfoAccess = OCSP;URI:$ocsp_url"
  # Two AIA OCSP URLs, the first of which is down.
  leaf_profile v3_leaf_two_responders "subjectAltName = DNS:localhost" \
    "authorityInfoAccess = OCSP;URI:http://127.0.0.1:$((base + 8)),OCSP;URI:$ocsp_url"
  leaf_profile v3_leaf_must_staple "subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1" \
    "authorityInfoAccess = OCSP;URI:$ocsp_url" "tlsfeature = status_request"
  # No OCSP URL; a CRL Distribution Point (served by B+10, or down on B+8).
  leaf_profile v3_leaf_crl_only "subjectAltName = DNS:*.lab.test" \
    "crlDistributionPoints = URI:$crl_url/ca.crl"
  leaf_profile v3_leaf_must_staple_crl_only "subjectAltName = DNS:*.lab.test" \
    "crlDistributionPoints = URI:$crl_url/ca.crl" "tlsfeature = status_request"
  leaf_profile v3_leaf_ocsp_and_crl "subjectAltName = DNS:*.lab.test" \
    "authorityInfoAccess = OCSP;URI:$ocsp_url" "crlDistributionPoints = URI:$crl_url/ca.crl"
  leaf_profile v3_leaf_crl_down "subjectAltName = DNS:*.lab.test" \
    "crlDistributionPoints = URI:http://127.0.0.1:$((base + 8))/ca.crl"
} >> ca.cnf
export OPENSSL_CONF=$dir/pki/ca.cnf
quiet() { "$@" > /dev/null 2>&1 || { echo "lab: failed: $*" >&2; "$@" >&2; exit 1; }; }

key() { quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }

key root
quiet openssl req -new -x509 -key root.key -subj "/CN=OCSP Lab Root CA" -days 365 \
  -extensions v3_root -config ca.cnf -out root.pem
key ca
quiet openssl req -new -key ca.key -subj "/CN=OCSP Lab Issuing CA" -out ca.csr -config ca.cnf
quiet openssl x509 -req -in ca.csr -CA root.pem -CAkey root.key -CAcreateserial -days 180 \
  -extfile ca.cnf -extensions v3_issuing -out ca.pem
cat ca.pem root.pem > trusted.pem

issue() {  # name extensions [faketime offset]
  local runner=()
  [ -n "${3:-}" ] && runner=(faketime -f "$3")
  key "$1"
  quiet openssl req -new -key "$1.key" -subj "/CN=$1.lab.test" -out "$1.csr" -config ca.cnf
  quiet "${runner[@]}" openssl ca -batch -config ca.cnf -extensions "$2" -in "$1.csr" \
    -out "$1.pem" -notext
  cat "$1.pem" ca.pem > "$1-chain.pem"
}
issue responder v3_ocsp
# A responder certificate with OCSPSigning that the root signed, not the
# issuing CA: not authorised to answer for the issuing CA's certificates.
key rogue
quiet openssl req -new -key rogue.key -subj "/CN=Unauthorised Responder" -out rogue.csr -config ca.cnf
quiet openssl x509 -req -in rogue.csr -CA root.pem -CAkey root.key -set_serial 0x6666 -days 30 \
  -extfile ca.cnf -extensions v3_ocsp -out rogue.pem
issue good v3_leaf_must_staple
issue revoked v3_leaf_must_staple
issue nostaple v3_leaf
# Two AIA OCSP URLs, the first of which is down.
issue tworesponders v3_leaf_two_responders
issue missing v3_leaf_must_staple
issue expired v3_leaf_must_staple
# Issued 60 days ago for 30 days: an expired server certificate.
issue other v3_leaf -60d
# Signed outside `openssl ca`: absent from the index, so the responder says "unknown".
key unknown
quiet openssl req -new -key unknown.key -subj "/CN=unknown.lab.test" -out unknown.csr -config ca.cnf
quiet openssl x509 -req -in unknown.csr -CA ca.pem -CAkey ca.key -set_serial 0x7777 -days 30 \
  -extfile ca.cnf -extensions v3_leaf -out unknown.pem
cat unknown.pem ca.pem > unknown-chain.pem

# Without an OCSP URL, revocation is told by CRLs only.
issue crlonly v3_leaf_crl_only
issue crlrevoked v3_leaf_crl_only
issue deltarevoked v3_leaf_crl_only
issue held v3_leaf_crl_only
issue mustnoocsp v3_leaf_must_staple_crl_only
issue ocspandcrl v3_leaf_ocsp_and_crl
issue crldown v3_leaf_crl_down

quiet openssl ca -batch -config ca.cnf -revoke revoked.pem -crl_reason keyCompromise
quiet openssl ca -batch -config ca.cnf -revoke crlrevoked.pem -crl_reason cessationOfOperation
quiet openssl ca -batch -config ca.cnf -revoke held.pem -crl_hold holdInstructionReject

# CRLs of the issuing CA, published to disk as CAs do before serving them:
# a fresh one (DER) listing the revoked certificates and naming its delta
# CRL (Freshest CRL); the delta, listing what changed since (deltarevoked
# revoked, held released with removeFromCRL); one issued ten days ago for
# two days (expired); one under the issuing CA's name signed by another key
# (an impostor CA with the same subject).
mkdir -p crl
quiet openssl ca -gencrl -config ca.cnf -crlexts crl_base -crldays 7 -out crl/ca.crl.pem
quiet openssl crl -in crl/ca.crl.pem -outform DER -out crl/ca.crl
# The delta CRL's own index holds only what changed since the base CRL.
sed 's#/index.txt$#/delta-index.txt#' ca.cnf > delta.cnf
quiet openssl ca -batch -config delta.cnf -revoke deltarevoked.pem -crl_reason keyCompromise
quiet openssl ca -batch -config delta.cnf -revoke held.pem -crl_reason removeFromCRL
quiet openssl ca -gencrl -config delta.cnf -crlexts crl_delta -crldays 7 -out crl/delta.crl.pem
quiet openssl crl -in crl/delta.crl.pem -outform DER -out crl/delta.crl
quiet faketime -f -10d openssl ca -gencrl -config ca.cnf -crlhours 48 -out crl/expired.crl
key impostor
quiet openssl req -new -x509 -key impostor.key -subj "/CN=OCSP Lab Issuing CA" -days 30 \
  -extensions v3_issuing -config ca.cnf -out impostor.pem
quiet openssl ca -gencrl -config ca.cnf -cert impostor.pem -keyfile impostor.key -crldays 7 \
  -out crl/wrong-key.crl

# Offline-signed responses (no server needed).
respond() {  # cert out days [faketime offset]
  local runner=()
  [ -n "${4:-}" ] && runner=(faketime -f "$4")
  quiet openssl ocsp -issuer ca.pem -cert "$1.pem" -no_nonce -reqout "$2.req"
  quiet "${runner[@]}" openssl ocsp -index index.txt -rsigner responder.pem \
    -rkey responder.key -CA ca.pem -reqin "$2.req" -respout "$2" -ndays "$3"
}
respond revoked revoked.ocsp.der 7
respond good good.ocsp.der 7
respond unknown unknown.ocsp.der 7
# thisUpdate three days ago, nextUpdate two days ago.
respond expired expired.ocsp.der 1 -3d
# A revocation past its nextUpdate: revoked (permanent) and expired.
respond revoked revoked-expired.ocsp.der 1 -3d

# --- servers ---------------------------------------------------------------
: > "$dir/pids"
started() { echo "$1 $2" >> "$dir/pids"; }

# The responder binds every interface (-port takes a number only); it only
# ever gets traffic on 127.0.0.1. -ignore_err and -timeout keep one bad or
# idle client from stopping or blocking it.
openssl ocsp -index index.txt -port "$ocsp_port" -rsigner responder.pem -rkey responder.key \
  -CA ca.pem -ndays 1 -ignore_err -timeout 5 > "$dir/logs/ocsp.log" 2>&1 &
started $! ocsp
openssl ocsp -index index.txt -port $((base + 9)) -rsigner rogue.pem -rkey rogue.key \
  -CA ca.pem -ndays 1 -ignore_err -timeout 5 > "$dir/logs/ocsp-rogue.log" 2>&1 &
started $! ocsp-rogue

mkdir -p "$dir/nginx/tmp"
cat > "$dir/nginx/nginx.conf" <<CONF
worker_processes 1;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
pid $dir/nginx/nginx.pid;
error_log $dir/logs/nginx-error.log info;
events { worker_connections 128; }
http {
  access_log $dir/logs/nginx-access.log;
  client_body_temp_path $dir/nginx/tmp/body;
  proxy_temp_path $dir/nginx/tmp/proxy;
  fastcgi_temp_path $dir/nginx/tmp/fastcgi;
  uwsgi_temp_path $dir/nginx/tmp/uwsgi;
  scgi_temp_path $dir/nginx/tmp/scgi;
  ssl_protocols TLSv1.2 TLSv1.3;
  default_type text/plain;
  server {  # stapling fetched from the responder
    listen 127.0.0.1:$((base + 1)) ssl;
    listen [::1]:$((base + 1)) ssl;
    server_name localhost;
    ssl_certificate $dir/pki/good-chain.pem;
    ssl_certificate_key $dir/pki/good.key;
    ssl_stapling on;
    ssl_stapling_verify on;
    ssl_trusted_certificate $dir/pki/trusted.pem;
    return 200 "good\n";
  }
  server {  # a revoked certificate's response, served from a file
    listen 127.0.0.1:$((base + 2)) ssl;
    ssl_certificate $dir/pki/revoked-chain.pem;
    ssl_certificate_key $dir/pki/revoked.key;
    ssl_stapling on;
    ssl_stapling_file $dir/pki/revoked.ocsp.der;
    return 200 "revoked\n";
  }
  server {  # no stapling, plain certificate (the default server of B+3)
    listen 127.0.0.1:$((base + 3)) ssl default_server;
    ssl_certificate $dir/pki/nostaple-chain.pem;
    ssl_certificate_key $dir/pki/nostaple.key;
    return 200 "nostaple\n";
  }
$(for name in crlonly crlrevoked deltarevoked held mustnoocsp; do cat <<SNI
  server {  # no OCSP URL: $name
    listen 127.0.0.1:$((base + 3)) ssl;
    server_name $name.lab.test;
    ssl_certificate $dir/pki/$name-chain.pem;
    ssl_certificate_key $dir/pki/$name.key;
    return 200 "$name\n";
  }
SNI
done)
  server {  # OCSP and CRL URLs, stapled
    listen 127.0.0.1:$((base + 3)) ssl;
    server_name ocspandcrl.lab.test;
    ssl_certificate $dir/pki/ocspandcrl-chain.pem;
    ssl_certificate_key $dir/pki/ocspandcrl.key;
    ssl_stapling on;
    ssl_stapling_verify on;
    ssl_trusted_certificate $dir/pki/trusted.pem;
    return 200 "ocspandcrl\n";
  }
  server {  # the CRL distribution point, plain HTTP
    listen 127.0.0.1:$((base + 10));
    root $dir/pki/crl;
    types { application/pkix-crl crl; }
    location / { try_files \$uri =404; }
  }
  server {  # no stapling, Must-Staple certificate
    listen 127.0.0.1:$((base + 4)) ssl;
    ssl_certificate $dir/pki/missing-chain.pem;
    ssl_certificate_key $dir/pki/missing.key;
    return 200 "missing\n";
  }
}
CONF
nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/logs/nginx-error.log"
for _ in $(seq 1 50); do [ -s "$dir/nginx/nginx.pid" ] && break; sleep 0.1; done
[ -s "$dir/nginx/nginx.pid" ] || { echo "lab: nginx did not start" >&2; cat "$dir/logs/nginx-error.log" >&2; exit 1; }
started "$(cat "$dir/nginx/nginx.pid")" nginx

s_server() {  # port cert key status_file [chain args...]
  local port=$1 cert=$2 key=$3 status=$4
  shift 4
  openssl s_server -accept "127.0.0.1:$port" -cert "$cert" -key "$key" "$@" \
    -status_file "$status" -www -quiet > "$dir/logs/s_server-$port.log" 2>&1 < /dev/null &
  started $! "s_server-$port"
}
s_server $((base + 5)) expired.pem expired.key expired.ocsp.der -cert_chain ca.pem
s_server $((base + 6)) other.pem other.key good.ocsp.der -cert_chain ca.pem
# Leaf only, no chain: the exporter needs ca_file to find the issuer.
s_server $((base + 7)) unknown.pem unknown.key unknown.ocsp.der -tls1_2

# Wait (bounded) for every port, then prime nginx: its first handshake after
# start gets no staple, the fetch happens lazily. The responder is waited for
# with real queries: a bare connect-and-close can wedge `openssl ocsp`.
ok=0
for _ in $(seq 1 50); do
  if timeout 5 openssl ocsp -url "$ocsp_url" -issuer ca.pem -cert good.pem -no_nonce \
      -VAfile responder.pem -timeout 2 > /dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ $ok = 1 ] || { echo "lab: the OCSP responder does not answer" >&2; exit 1; }
ok=0
for _ in $(seq 1 50); do
  # -VAfile of the rogue signer itself: only checks that it answers.
  if timeout 5 openssl ocsp -url "http://127.0.0.1:$((base + 9))" -issuer ca.pem -cert good.pem \
      -no_nonce -VAfile rogue.pem -timeout 2 > /dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ $ok = 1 ] || { echo "lab: the rogue OCSP responder does not answer" >&2; exit 1; }
# A load balancer with one stapling and one non-stapling backend.
cat > "$dir/haproxy-lb.cfg" <<CFG
global
  maxconn 64
  pidfile $dir/haproxy-lb.pid
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend lb
  bind 127.0.0.1:$((base + 11))
  default_backend fleet
backend fleet
  balance roundrobin
  server stapling 127.0.0.1:$((base + 1))
  server bare 127.0.0.1:$((base + 4))
CFG
haproxy -D -f "$dir/haproxy-lb.cfg" > "$dir/logs/haproxy-lb.log" 2>&1
for _ in $(seq 1 50); do [ -s "$dir/haproxy-lb.pid" ] && break; sleep 0.1; done
[ -s "$dir/haproxy-lb.pid" ] || { echo "lab: haproxy did not start" >&2; cat "$dir/logs/haproxy-lb.log" >&2; exit 1; }
started "$(head -n1 "$dir/haproxy-lb.pid")" haproxy-lb

for port in $(seq $((base + 1)) $((base + 7))) $((base + 10)) $((base + 11)); do
  ok=0
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] || { echo "lab: nothing listens on 127.0.0.1:$port" >&2; exit 1; }
done
for _ in 1 2; do
  timeout 5 openssl s_client -connect "127.0.0.1:$((base + 1))" -servername localhost \
    -status < /dev/null > /dev/null 2>&1 || true
  timeout 5 openssl s_client -connect "127.0.0.1:$((base + 3))" \
    -servername ocspandcrl.lab.test -status < /dev/null > /dev/null 2>&1 || true
done

cat > "$dir/exporter.toml" <<TOML
# Written by scripts/lab.sh: every server of the lab.
[global]
interval = "15s"
timeout = "5s"

[[tls]]
name = "nginx-good"
address = "127.0.0.1:$((base + 1))"
server_name = "localhost"
ca_file = "pki/root.pem"   # the lab's root: ocsp_tls_chain_verified 1

[[tls]]
name = "nginx-good-ipv6"
address = "[::1]:$((base + 1))"
server_name = "localhost"

[[tls]]
name = "nginx-revoked"
address = "127.0.0.1:$((base + 2))"

[[tls]]
name = "nginx-no-staple"
address = "127.0.0.1:$((base + 3))"

[[tls]]
name = "nginx-must-staple-missing"
address = "127.0.0.1:$((base + 4))"

[[tls]]
name = "s_server-expired"
address = "127.0.0.1:$((base + 5))"

[[tls]]
name = "s_server-wrong-cert"
address = "127.0.0.1:$((base + 6))"

[[tls]]
name = "s_server-unknown"
address = "localhost:$((base + 7))"
ca_file = "pki/ca.pem"   # this server sends no chain: the issuer comes from here

[[tls]]
name = "nothing-listens"
address = "127.0.0.1:$((base + 8))"

# The issuing CA's CRLs, as published to disk (see pki/crl).
[[crl]]
name = "crl-fresh"
path = "pki/crl/ca.crl"
issuer_file = "pki/ca.pem"

[[crl]]
name = "crl-expired"
path = "pki/crl/expired.crl"
issuer_file = "pki/ca.pem"

[[crl]]
name = "crl-wrong-key"
path = "pki/crl/wrong-key.crl"
issuer_file = "pki/ca.pem"

[[crl]]
name = "crl-not-published"
path = "pki/crl/not-yet.crl"
issuer_file = "pki/ca.pem"

[[crl]]
name = "crl-server-down"
url = "http://127.0.0.1:$((base + 8))/ca.crl"
issuer_file = "pki/ca.pem"

# The same CRL and its delta, served over HTTP by nginx (B+10).
[[crl]]
name = "crl-http"
url = "$crl_url/ca.crl?from=crl-http"   # (the query tells its fetches apart in nginx's log)
issuer_file = "pki/ca.pem"

[[crl]]
name = "crl-delta"
url = "$crl_url/delta.crl"
issuer_file = "pki/ca.pem"

# Leaves without an OCSP URL (B+3 by SNI): revocation from the CRLs of their
# CRL Distribution Points (B+10), delta CRL applied.
[[tls]]
name = "crl-only-good"
address = "127.0.0.1:$((base + 3))"
server_name = "crlonly.lab.test"
revocation = "crl"

[[tls]]
name = "crl-only-revoked"
address = "127.0.0.1:$((base + 3))"
server_name = "crlrevoked.lab.test"
revocation = "crl"

[[tls]]
name = "crl-delta-revoked"
address = "127.0.0.1:$((base + 3))"
server_name = "deltarevoked.lab.test"
revocation = "crl"

[[tls]]
name = "crl-hold-lifted"
address = "127.0.0.1:$((base + 3))"
server_name = "held.lab.test"
revocation = "crl"

[[tls]]
name = "must-staple-no-ocsp-url"
address = "127.0.0.1:$((base + 3))"
server_name = "mustnoocsp.lab.test"
revocation = "crl"

[[tls]]
name = "nginx-ocsp-and-crl"    # stapled, and in the CRL: both are checked
address = "127.0.0.1:$((base + 3))"
server_name = "ocspandcrl.lab.test"
revocation = "both"

[[tls]]
name = "nginx-good-every-address"  # every address of the name, each on its own
address = "localhost:$((base + 1))"
addresses = "all"
handshakes = 2

[[tls]]
name = "haproxy-intermittent"   # behind the balancer: 2 of 4 handshakes stapled
address = "127.0.0.1:$((base + 11))"
server_name = "localhost"
handshakes = 4

# No TLS server needed: the certificate's CRL alone (no OCSP request).
[[responder]]
name = "responder-crl-revoked"
cert_file = "pki/crlrevoked-chain.pem"
revocation = "crl"

[[responder]]
name = "responder-crl-server-down"   # its CRL Distribution Point is B+8
cert_file = "pki/crldown-chain.pem"
revocation = "crl"
TOML
# Staple files as nginx ssl_stapling_file / HAProxy .ocsp would serve them.
mkdir -p "$dir/staples"
cp good.ocsp.der "$dir/staples/good.ocsp"
cp revoked.ocsp.der "$dir/staples/revoked.ocsp"
cp expired.ocsp.der "$dir/staples/expired.ocsp"
cp revoked-expired.ocsp.der "$dir/staples/revoked-expired.ocsp"
printf '<html>502 Bad Gateway</html>\n' > "$dir/staples/garbage.ocsp"
rm -f "$dir/staples/missing.ocsp"
cat >> "$dir/exporter.toml" <<TOML

# Responders asked directly.
[[responder]]
name = "responder-good"          # URL from the certificate's AIA
cert_file = "pki/good.pem"
issuer_file = "pki/ca.pem"

[[responder]]
name = "responder-revoked"
cert_file = "pki/revoked-chain.pem"   # the chain holds the issuer

[[responder]]
name = "responder-unknown"
cert_file = "pki/unknown-chain.pem"
url = "$ocsp_url"
method = "post"
nonce = true

[[responder]]
name = "responder-second-url"    # the first AIA URL is down; the second answers
cert_file = "pki/tworesponders-chain.pem"

[[responder]]
name = "responder-unauthorised-signer"
cert_file = "pki/good-chain.pem"
url = "http://127.0.0.1:$((base + 9))"

[[responder]]
name = "responder-down"
cert_file = "pki/good-chain.pem"
url = "http://127.0.0.1:$((base + 8))"

# Staple files.
[[file]]
name = "file-good"
path = "staples/good.ocsp"
cert_file = "pki/good-chain.pem"

[[file]]
name = "file-revoked"
path = "staples/revoked.ocsp"
cert_file = "pki/revoked-chain.pem"

[[file]]
name = "file-expired"
path = "staples/expired.ocsp"
cert_file = "pki/expired-chain.pem"

[[file]]
name = "file-revoked-expired"
path = "staples/revoked-expired.ocsp"
cert_file = "pki/revoked-chain.pem"

[[file]]
name = "file-missing"
path = "staples/missing.ocsp"
cert_file = "pki/good-chain.pem"

[[file]]
name = "file-garbage"
path = "staples/garbage.ocsp"
cert_file = "pki/good-chain.pem"

# The stapling engine: fetch, verify, cache and publish the good certificate's
# staple (as nginx ssl_stapling_file / HAProxy .ocsp would read it).
[stapler]
store_dir = "store"

[[stapler.certificate]]
name = "lab-good"
cert_file = "pki/good-chain.pem"
mode = "must"
output_file = "staples/engine-good.ocsp"

[[stapler.certificate]]
name = "lab-plain"              # no Must-Staple: auto mode leaves it alone
cert_file = "pki/nostaple-chain.pem"
mode = "auto"

# Options for /probe?target=...&module=lab
[[module]]
name = "lab"
server_name = "localhost"
ca_file = "pki/ca.pem"
timeout = "3s"

# A name the lab's certificates do not carry: ocsp_tls_name_matched 0.
[[module]]
name = "wrong-name"
server_name = "wrong.example"
timeout = "3s"
TOML
echo "lab: up in $dir (ports $base-$((base + 11)))"
