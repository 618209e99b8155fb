#!/bin/sh
# make-certs.sh DIR
#
# Creates a throwaway CA (DIR/ca.pem, DIR/ca.key) and a server certificate
# signed by it (DIR/server.pem, DIR/server.key) for DNS:localhost and
# IP:127.0.0.1, valid 30 days.  Idempotent: does nothing when the files exist,
# chain up and the server certificate is valid for at least one more day.
# Quiet unless something fails.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
mkdir -p "$dir"

if [ -s "$dir/ca.pem" ] && [ -s "$dir/ca.key" ] && [ -s "$dir/server.pem" ] && [ -s "$dir/server.key" ] \
   && openssl x509 -in "$dir/server.pem" -noout -checkend 86400 >/dev/null 2>&1 \
   && openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" >/dev/null 2>&1 \
   && [ "$(openssl x509 -in "$dir/server.pem" -noout -pubkey 2>/dev/null)" = \
        "$(openssl pkey -in "$dir/server.key" -pubout 2>/dev/null)" ]; then
    exit 0
fi

umask 077
tmp=$(mktemp -d "$dir/.make-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

run() {
    if ! "$@" >"$tmp/log" 2>&1; then
        echo "make-certs.sh: failed: $*" >&2
        cat "$tmp/log" >&2
        exit 1
    fi
}

run openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
    -keyout "$tmp/ca.key" -out "$tmp/ca.pem" \
    -subj "/O=gwresize tests/CN=gwresize mock CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"

run openssl req -new -newkey rsa:2048 -nodes -sha256 \
    -keyout "$tmp/server.key" -out "$tmp/server.csr" \
    -subj "/O=gwresize tests/CN=localhost"

cat >"$tmp/ext.cnf" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
subjectAltName=DNS:localhost,IP:127.0.0.1
EOF

run openssl x509 -req -sha256 -days 30 -in "$tmp/server.csr" \
    -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -CAserial "$tmp/ca.srl" \
    -extfile "$tmp/ext.cnf" -out "$tmp/server.pem"

chmod 644 "$tmp/ca.pem" "$tmp/server.pem"
chmod 600 "$tmp/ca.key" "$tmp/server.key"
# keys first, certificates last, so a half-finished run is never "complete"
mv -f "$tmp/ca.key" "$dir/ca.key"
mv -f "$tmp/server.key" "$dir/server.key"
mv -f "$tmp/ca.pem" "$dir/ca.pem"
mv -f "$tmp/server.pem" "$dir/server.pem"
exit 0
