#!/bin/bash
# Makes a test CA and certificates for a chunkfs cluster with openssl (P-256 keys):
#   scripts/make-certs.sh DIR [NAME_OR_IP...]
#   DIR/ca.crt ca.key          the CA (give ca.crt to every server and client: --tls-ca)
#   DIR/server.crt server.key  for every server (--tls-cert/--tls-key); SANs: localhost,
#                              127.0.0.1 and the given names/IPs; usable as client cert too
#   DIR/client.crt client.key  a client certificate for mutual TLS (CLI, mount)
# Idempotent: existing files are kept (delete DIR to start over). Keys are mode 0600.
# For tests and trials only: production certificates come from your own CA.
set -eu
dir=${1:?usage: make-certs.sh DIR [NAME_OR_IP...]}
shift
command -v openssl >/dev/null || { echo "make-certs: openssl is not installed" >&2; exit 1; }
mkdir -p "$dir"
umask 077
days=3650

sans="DNS:localhost,IP:127.0.0.1"
for n in "$@"; do
    if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then sans="$sans,IP:$n"; else sans="$sans,DNS:$n"; fi
done

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -s "$dir/ca.crt" ] || [ ! -s "$dir/ca.key" ]; then
    newkey "$dir/ca.key"
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days $days -subj "/CN=chunkfs test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$dir/ca.crt"
fi

# sign NAME CN EXTENSIONS
sign() {
    local name=$1 cn=$2 ext=$3
    [ -s "$dir/$name.crt" ] && [ -s "$dir/$name.key" ] && return 0
    newkey "$dir/$name.key"
    openssl req -new -key "$dir/$name.key" -subj "/CN=$cn" -out "$dir/$name.csr"
    printf '%s\n' "$ext" >"$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -sha256 -days $days -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
    rm -f "$dir/$name.csr" "$dir/$name.ext"
}
sign server "chunkfs server" "subjectAltName=$sans
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth"
sign client "chunkfs client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
chmod 644 "$dir/ca.crt" "$dir/server.crt" "$dir/client.crt"
echo "make-certs: $dir: ca.crt, server.crt/key ($(openssl x509 -in "$dir/server.crt" -noout \
    -ext subjectAltName | tail -n 1 | sed 's/^ *//')), client.crt/key"
