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
#   B+12 Exim SMTP, STARTTLS, tls_ocsp_file with the good certificate's response
#   B+13 Exim SMTP, STARTTLS, tls_ocsp_file with a revoked response: Exim on
#        GnuTLS refuses to load it, and answers STARTTLS with 454
#   B+14 Dovecot IMAP, STARTTLS, no stapling (Dovecot cannot staple)
#   B+15 Dovecot POP3, STARTTLS, no stapling
#   B+16 Go crypto/tls, Certificate.OCSPStaple = the good response
#   B+17 Go crypto/tls behind SMTP STARTTLS, stapling the revoked response
#   B+18 Node.js tls.Server answering 'OCSPRequest' with the revoked response
#   B+19 lighttpd, ssl.stapling-file with the good response
#   B+20 lighttpd, ssl.stapling-file with an expired response (lighttpd then
#        staples nothing)
# With OSE_LAB_STARTTLS=1 (scripts/run.sh, the starttls suite), servers of the
# other STARTTLS protocols, none of which can staple:
#   B+21 PostgreSQL (SSLRequest)   B+22 vsftpd (AUTH TLS)
#   B+23 slapd (LDAP StartTLS)     B+24 Prosody (XMPP <starttls/>)
#   B+25 Apache httpd, SSLUseStapling on: fetches from the responder itself
#   B+26 Apache httpd, SSLUseStapling on, a certificate whose (first) OCSP URL
#        is down: Apache staples a tryLater it made up (SSLStaplingFakeTryLater)
#   B+27 Caddy, stapling by itself from the certificate's OCSP URL
# The lab takes ports B to B+31 (B+28 to B+31 are kept free for more servers).
# B+3 also serves, by SNI (*.lab.test), certificates without an OCSP URL whose
# CRL Distribution Point is B+10 (as Let's Encrypt issues since 2025):
# crlonly (good), crlrevoked (in the base CRL), deltarevoked (in the delta
# CRL only), held (on hold in the base CRL, removeFromCRL in the delta),
# mustnoocsp (Must-Staple without an OCSP URL: can never be stapled),
# ocspandcrl (both URLs, stapled by nginx), and chainrevoked (a leaf of an
# intermediate the root has revoked). The issuing CA's own CRL Distribution
# Point is the root's CRL (B+10 root.crl, onlyContainsCACerts), which lists
# that second intermediate ("OCSP Lab Revoked Intermediate").
# Staple files in DIR/staples: good, revoked, expired, garbage (and a missing one).
set -euo pipefail

lab_src=$(cd "$(dirname "$0")/../tests/lab" && pwd)  # the lab's own servers
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
for port in $(seq "$base" $((base + 27))); do
  if [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
    echo "lab: port $port is already in use (another lab? stop it with '$0 down DIR'," \
      "or choose other ports with PORT_BASE / OSE_LAB_PORT_BASE)" >&2
    exit 1
  fi
done
rm -rf "$dir/pki" "$dir/nginx" "$dir/logs" "$dir/exim" "$dir/dovecot" "$dir/go" "$dir/lighttpd" \
  "$dir/postgres" "$dir/vsftpd" "$dir/slapd" "$dir/prosody" "$dir/apache" "$dir/caddy"
mkdir -p "$dir/pki/newcerts" "$dir/nginx/tmp" "$dir/logs"
cd "$dir/pki"

ocsp_port=$base
ocsp_url="http://127.0.0.1:$ocsp_port"
crl_url="http://127.0.0.1:$((base + 10))"

# --- PKI -------------------------------------------------------------------
touch index.txt delta-index.txt root-index.txt
echo 1000 > serial
echo 01 > crlnumber
echo 5000 > root-serial
echo 01 > root-crlnumber
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
# The root's CA (intermediates it signs, its CRL of CA certificates).
[ root_ca ]
dir = $dir/pki
database = \$dir/root-index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/root-serial
crlnumber = \$dir/root-crlnumber
certificate = \$dir/root.pem
private_key = \$dir/root.key
default_md = sha256
default_days = 90
policy = any
copy_extensions = none
unique_subject = no
[ crl_root ]
# RFC 5280 5.2.5: this CRL lists CA certificates only.
issuingDistributionPoint = critical,@root_idp
[ root_idp ]
fullname = URI:$crl_url/root.crl
onlyCA = TRUE
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
crlDistributionPoints = URI:$crl_url/root.crl
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
  # Neither OCSP nor CRL URL (the leaf under the revoked intermediate).
  leaf_profile v3_leaf_bare "subjectAltName = DNS:*.lab.test"
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

# A second intermediate, which the root then revokes, and a leaf under it.
key revokedca
quiet openssl req -new -key revokedca.key -subj "/CN=OCSP Lab Revoked Intermediate" \
  -out revokedca.csr -config ca.cnf
quiet openssl ca -batch -config ca.cnf -name root_ca -extensions v3_issuing -in revokedca.csr \
  -out revokedca.pem -notext
quiet openssl ca -batch -config ca.cnf -name root_ca -revoke revokedca.pem \
  -crl_reason keyCompromise
key chainrevoked
quiet openssl req -new -key chainrevoked.key -subj "/CN=chainrevoked.lab.test" \
  -out chainrevoked.csr -config ca.cnf
quiet openssl x509 -req -in chainrevoked.csr -CA revokedca.pem -CAkey revokedca.key \
  -set_serial 0x5151 -days 30 -extfile ca.cnf -extensions v3_leaf_bare -out chainrevoked.pem
cat chainrevoked.pem revokedca.pem > chainrevoked-chain.pem

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
# The root's CRL of CA certificates (revokedca listed; ca.pem not).
quiet openssl ca -gencrl -config ca.cnf -name root_ca -crlexts crl_root -crldays 7 \
  -out crl/root.crl.pem
quiet openssl crl -in crl/root.crl.pem -outform DER -out crl/root.crl
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
$(for name in crlonly crlrevoked deltarevoked held mustnoocsp chainrevoked; do cat <<SNI
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

# Mail over STARTTLS. Exim (exim4-daemon-heavy, GnuTLS) staples the DER file
# tls_ocsp_file names, read at each connection; one daemon per certificate.
# It runs from a private config as root (exim_user = root): no system
# spool, no system log, no delivery (every RCPT is denied).
exim_lab() {  # name port cert
  local d=$dir/exim/$1
  mkdir -p "$d/spool" "$d/log"
  cat > "$d/exim.conf" <<CONF
primary_hostname = mx.lab.test
keep_environment =
exim_user = root
exim_group = root
never_users =
spool_directory = $d/spool
log_file_path = $d/log/%slog
daemon_smtp_ports = $2
local_interfaces = 127.0.0.1
tls_advertise_hosts = *
tls_certificate = $dir/pki/$3-chain.pem
tls_privatekey = $dir/pki/$3.key
tls_ocsp_file = $dir/pki/$3.ocsp.der
acl_smtp_rcpt = refuse
begin acl
refuse:
  deny
CONF
  exim4 -C "$d/exim.conf" -bd -oX "$2" -oP "$d/exim.pid" > "$dir/logs/exim-$1.log" 2>&1 ||
    { echo "lab: exim ($1) did not start" >&2; cat "$dir/logs/exim-$1.log" "$d"/log/* >&2; exit 1; }
  for _ in $(seq 1 50); do [ -s "$d/exim.pid" ] && break; sleep 0.1; done
  started "$(cat "$d/exim.pid")" "exim-$1"
}
exim_lab good $((base + 12)) good
exim_lab revoked $((base + 13)) revoked

# Dovecot: IMAP and POP3 with STARTTLS; it has no OCSP stapling at all.
mkdir -p "$dir/dovecot/run" "$dir/dovecot/state"
cat > "$dir/dovecot/dovecot.conf" <<CONF
base_dir = $dir/dovecot/run
state_dir = $dir/dovecot/state
log_path = $dir/logs/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$dir/pki/nostaple-chain.pem
ssl_key = <$dir/pki/nostaple.key
passdb {
  driver = static
  args = password=unused-lab-password
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service imap-login {
  inet_listener imap {
    port = $((base + 14))
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $((base + 15))
  }
  inet_listener pop3s {
    port = 0
  }
}
CONF
dovecot -c "$dir/dovecot/dovecot.conf" > "$dir/logs/dovecot-start.log" 2>&1 < /dev/null ||
  { echo "lab: dovecot did not start" >&2; cat "$dir/logs/dovecot-start.log" >&2; exit 1; }
for _ in $(seq 1 50); do [ -s "$dir/dovecot/run/master.pid" ] && break; sleep 0.1; done
started "$(cat "$dir/dovecot/run/master.pid")" dovecot

# Go and Node.js services staple what they are given (tests/lab/*).
mkdir -p "$dir/go"
cp "$lab_src/go_staple_server.go" "$dir/go/"
(cd "$dir/go" && GO111MODULE=off GOCACHE=${GOCACHE:-/tmp/ose-lab-gocache} \
  go build -o go_staple_server go_staple_server.go) > "$dir/logs/go-build.log" 2>&1 ||
  { echo "lab: cannot build the Go server" >&2; cat "$dir/logs/go-build.log" >&2; exit 1; }
"$dir/go/go_staple_server" -listen "127.0.0.1:$((base + 16))" -cert good-chain.pem \
  -key good.key -staple good.ocsp.der > "$dir/logs/go-good.log" 2>&1 &
started $! go-good
"$dir/go/go_staple_server" -listen "127.0.0.1:$((base + 17))" -cert revoked-chain.pem \
  -key revoked.key -staple revoked.ocsp.der -smtp > "$dir/logs/go-smtp-revoked.log" 2>&1 &
started $! go-smtp-revoked
node "$lab_src/node_staple_server.js" $((base + 18)) revoked-chain.pem revoked.key \
  revoked.ocsp.der > "$dir/logs/node-revoked.log" 2>&1 &
started $! node-revoked

# lighttpd (mod_openssl): ssl.stapling-file, re-read when it changes. An
# expired response is not served at all (it logs "OCSP response expired").
mkdir -p "$dir/lighttpd"
cat > "$dir/lighttpd/lighttpd.conf" <<CONF
server.modules = ("mod_openssl")
server.document-root = "$dir/lighttpd"
server.bind = "127.0.0.1"
server.port = $((base + 19))
server.pid-file = "$dir/lighttpd/lighttpd.pid"
server.errorlog = "$dir/logs/lighttpd-error.log"
ssl.engine = "enable"
ssl.pemfile = "$dir/pki/good-chain.pem"
ssl.privkey = "$dir/pki/good.key"
ssl.stapling-file = "$dir/pki/good.ocsp.der"
\$SERVER["socket"] == "127.0.0.1:$((base + 20))" {
  ssl.engine = "enable"
  ssl.pemfile = "$dir/pki/expired-chain.pem"
  ssl.privkey = "$dir/pki/expired.key"
  ssl.stapling-file = "$dir/pki/expired.ocsp.der"
}
CONF
lighttpd -D -f "$dir/lighttpd/lighttpd.conf" > "$dir/logs/lighttpd.log" 2>&1 &
started $! lighttpd

# Apache httpd (mod_ssl): it fetches in the handshake that needs a staple,
# caches in shared memory, and with the responder down staples a tryLater of
# its own making. Its children run as www-data: they must reach $dir.
chmod o+x "$dir"
mkdir -p "$dir/apache/run"
cat > "$dir/apache/httpd.conf" <<CONF
ServerRoot /etc/apache2
ServerName localhost
PidFile $dir/apache/run/httpd.pid
DefaultRuntimeDir $dir/apache/run
Mutex file:$dir/apache/run default
ErrorLog $dir/logs/apache-error.log
LogLevel warn ssl:info
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
Listen 127.0.0.1:$((base + 25))
Listen 127.0.0.1:$((base + 26))
SSLStaplingCache shmcb:$dir/apache/run/stapling(65536)
SSLSessionCache none
<VirtualHost 127.0.0.1:$((base + 25))>
  SSLEngine on
  SSLCertificateFile $dir/pki/good-chain.pem
  SSLCertificateKeyFile $dir/pki/good.key
  SSLUseStapling on
</VirtualHost>
<VirtualHost 127.0.0.1:$((base + 26))>
  SSLEngine on
  SSLCertificateFile $dir/pki/tworesponders-chain.pem
  SSLCertificateKeyFile $dir/pki/tworesponders.key
  SSLUseStapling on
  SSLStaplingResponderTimeout 2
</VirtualHost>
CONF
apache2 -f "$dir/apache/httpd.conf" -k start > "$dir/logs/apache-start.log" 2>&1 ||
  { echo "lab: apache did not start" >&2; cat "$dir/logs/apache-start.log" >&2; exit 1; }
for _ in $(seq 1 50); do [ -s "$dir/apache/run/httpd.pid" ] && break; sleep 0.1; done
started "$(cat "$dir/apache/run/httpd.pid")" apache

# Caddy staples every certificate with an OCSP URL, fetching at load.
mkdir -p "$dir/caddy/storage"
cat > "$dir/caddy/Caddyfile" <<CONF
{
	admin off
	auto_https off
	storage file_system $dir/caddy/storage
}
https://localhost:$((base + 27)) {
	bind 127.0.0.1
	tls $dir/pki/good-chain.pem $dir/pki/good.key
	respond "lab"
}
CONF
(cd "$dir/caddy" && HOME=$dir/caddy XDG_DATA_HOME=$dir/caddy/data XDG_CONFIG_HOME=$dir/caddy/config \
  exec caddy run --config "$dir/caddy/Caddyfile" --adapter caddyfile) > "$dir/logs/caddy.log" 2>&1 &
started $! caddy

more_ports=()
if [ "${OSE_LAB_STARTTLS:-0}" = 1 ]; then
  more_ports=($((base + 21)) $((base + 22)) $((base + 23)) $((base + 24)))
  # PostgreSQL runs as its own user, with a copy of the key it can read.
  pg=$dir/postgres
  chmod o+x "$dir"   # the postgres user reaches its own folder (a test's mkdtemp is 0700)
  mkdir -p "$pg"
  cp nostaple-chain.pem nostaple.key "$pg/"
  chmod 600 "$pg/nostaple.key"
  chown -R postgres "$pg"
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  su postgres -s /bin/sh -c "$pgbin/initdb -D $pg/data -A trust -U postgres" \
    > "$dir/logs/postgres-initdb.log" 2>&1 ||
    { echo "lab: initdb failed" >&2; cat "$dir/logs/postgres-initdb.log" >&2; exit 1; }
  su postgres -s /bin/sh -c "$pgbin/pg_ctl -D $pg/data -l $pg/postgres.log -w -t 30 \
    -o '-c listen_addresses=127.0.0.1 -c port=$((base + 21)) -c unix_socket_directories=$pg \
    -c ssl=on -c ssl_cert_file=$pg/nostaple-chain.pem -c ssl_key_file=$pg/nostaple.key' start" \
    > "$dir/logs/postgres-start.log" 2>&1 ||
    { echo "lab: postgres did not start" >&2; cat "$pg/postgres.log" >&2; exit 1; }
  started "$(head -n1 "$pg/data/postmaster.pid")" postgres
  # vsftpd refuses to start with every login disabled; nobody logs in anyway.
  mkdir -p "$dir/vsftpd/empty"
  cat > "$dir/vsftpd/vsftpd.conf" <<CONF
listen=YES
listen_address=127.0.0.1
listen_port=$((base + 22))
background=NO
anonymous_enable=NO
local_enable=YES
pasv_enable=NO
secure_chroot_dir=$dir/vsftpd/empty
ssl_enable=YES
rsa_cert_file=$dir/pki/nostaple-chain.pem
rsa_private_key_file=$dir/pki/nostaple.key
xferlog_enable=NO
vsftpd_log_file=$dir/logs/vsftpd.log
CONF
  vsftpd "$dir/vsftpd/vsftpd.conf" > "$dir/logs/vsftpd-start.log" 2>&1 &
  started $! vsftpd
  # slapd from a slapd.conf with no database: StartTLS is all it answers.
  mkdir -p "$dir/slapd"
  cat > "$dir/slapd/slapd.conf" <<CONF
pidfile $dir/slapd/slapd.pid
argsfile $dir/slapd/slapd.args
TLSCertificateFile $dir/pki/nostaple-chain.pem
TLSCertificateKeyFile $dir/pki/nostaple.key
CONF
  slapd -f "$dir/slapd/slapd.conf" -h "ldap://127.0.0.1:$((base + 23))/" -d 0 \
    > "$dir/logs/slapd.log" 2>&1 &
  started $! slapd
  mkdir -p "$dir/prosody/data"
  cat > "$dir/prosody/prosody.cfg.lua" <<CONF
pidfile = "$dir/prosody/prosody.pid"
data_path = "$dir/prosody/data"
log = { info = "$dir/logs/prosody.log" }
daemonize = false
run_as_root = true
interfaces = { "127.0.0.1" }
c2s_ports = { $((base + 24)) }
s2s_ports = { }
c2s_direct_tls_ports = { }
modules_enabled = { "tls", "saslauth", "disco", "ping" }
modules_disabled = { "s2s" }
c2s_require_encryption = true
ssl = { certificate = "$dir/pki/nostaple-chain.pem", key = "$dir/pki/nostaple.key" }
VirtualHost "localhost"
CONF
  prosody --config "$dir/prosody/prosody.cfg.lua" > "$dir/logs/prosody-start.log" 2>&1 &
  started $! prosody
fi

for port in $(seq $((base + 1)) $((base + 7))) $(seq $((base + 10)) $((base + 20))) \
  $(seq $((base + 25)) $((base + 27))) "${more_ports[@]}"; do
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

# revocation_scope = "chain": the intermediate above each leaf too, in the
# root's CRL (the root, the trust anchor, from ca_file).
[[tls]]
name = "chain-good"
address = "127.0.0.1:$((base + 3))"
server_name = "crlonly.lab.test"
ca_file = "pki/root.pem"
revocation = "crl"
revocation_scope = "chain"

[[tls]]
name = "chain-intermediate-revoked"
address = "127.0.0.1:$((base + 3))"
server_name = "chainrevoked.lab.test"
ca_file = "pki/root.pem"
revocation = "crl"
revocation_scope = "chain"

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

# Mail servers: TLS after STARTTLS, the staple judged as any other.
[[tls]]
name = "exim-good"
address = "127.0.0.1:$((base + 12))"
starttls = "smtp"
starttls_ehlo = "probe.lab.test"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "exim-revoked-file"   # Exim refuses a revoked tls_ocsp_file: STARTTLS answers 454
address = "127.0.0.1:$((base + 13))"
starttls = "smtp"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "dovecot-imap"
address = "127.0.0.1:$((base + 14))"
starttls = "imap"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "dovecot-pop3"
address = "127.0.0.1:$((base + 15))"
starttls = "pop3"
server_name = "localhost"
ca_file = "pki/root.pem"

# Application servers that staple what they are handed.
[[tls]]
name = "go-good"
address = "127.0.0.1:$((base + 16))"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "go-smtp-revoked"
address = "127.0.0.1:$((base + 17))"
starttls = "smtp"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "node-revoked"
address = "127.0.0.1:$((base + 18))"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "lighttpd-good"
address = "127.0.0.1:$((base + 19))"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "lighttpd-expired-file"   # lighttpd drops an expired staple: Must-Staple missing
address = "127.0.0.1:$((base + 20))"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "apache-good"
address = "127.0.0.1:$((base + 25))"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "apache-fake-try-later"   # responder down: Apache staples its own tryLater
address = "127.0.0.1:$((base + 26))"
server_name = "localhost"
ca_file = "pki/root.pem"

[[tls]]
name = "caddy-good"
address = "127.0.0.1:$((base + 27))"
server_name = "localhost"
ca_file = "pki/root.pem"

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

# /probe with the leaf's and the chain's CRLs (the root from ca_file).
[[module]]
name = "chain"
server_name = "chainrevoked.lab.test"
ca_file = "pki/root.pem"
timeout = "3s"
revocation = "crl"
revocation_scope = "chain"

# A name the lab's certificates do not carry: ocsp_tls_name_matched 0.
[[module]]
name = "wrong-name"
server_name = "wrong.example"
timeout = "3s"
TOML
if [ ${#more_ports[@]} -gt 0 ]; then
  for t in "postgres 21" "ftp 22" "ldap 23" "xmpp 24"; do
    read -r proto offset <<< "$t"
    cat >> "$dir/exporter.toml" <<TOML

[[tls]]
name = "starttls-$proto"   # cannot staple: absent
address = "127.0.0.1:$((base + offset))"
starttls = "$proto"
server_name = "localhost"
ca_file = "pki/root.pem"
TOML
  done
fi
echo "lab: up in $dir (ports $base-$((base + 27)))"
