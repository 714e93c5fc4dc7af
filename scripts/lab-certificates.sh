#!/usr/bin/env bash
# Makes a throw-away CA and a server certificate signed by it, for labs, the demo and the tests:
#   scripts/lab-certificates.sh DIR NAME-OR-ADDRESS...
# writes DIR/ca.crt, DIR/ca.key, DIR/server.crt, DIR/server.key (P-256, valid two days). Each argument
# becomes a subjectAltName (IP: for an address, DNS: otherwise). A second run in the same DIR makes a new
# server certificate from the same CA (a rotation); `--new-ca` makes a new CA first.
set -euo pipefail
new_ca=0
if [ "${1:-}" = "--new-ca" ]; then new_ca=1; shift; fi
if [ $# -lt 2 ]; then echo "usage: scripts/lab-certificates.sh [--new-ca] DIR NAME-OR-ADDRESS..." >&2; exit 2; fi
dir=$1; shift
command -v openssl > /dev/null || { echo "lab-certificates: openssl is missing (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
names=()
for name in "$@"; do
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then names+=("IP:$name"); else names+=("DNS:$name"); fi
done
if [ "$new_ca" -eq 1 ] || [ ! -s "$dir/ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=routeprobe lab CA $(date +%s%N)" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
fi
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
    -keyout "$dir/server.key.new" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$(IFS=,; echo "${names[*]}")" > "$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 2 -extfile "$dir/server.ext" -out "$dir/server.crt.new" 2>/dev/null
# The key first, then the certificate, each replaced whole: a reader never sees half a file.
mv "$dir/server.key.new" "$dir/server.key"
mv "$dir/server.crt.new" "$dir/server.crt"
rm -f "$dir/server.csr" "$dir/server.ext"
chmod 600 "$dir/ca.key" "$dir/server.key"
