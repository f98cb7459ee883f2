#!/bin/sh
# Installs the Debian packages temporald builds, tests and benchmarks with, when missing.
# Usage: deps.sh [build|test|all]   (default: all)
set -eu
build_pkgs="gcc make pkg-config libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev \
libnghttp2-dev libevent-dev libssl-dev libsqlite3-dev libpq-dev libinih-dev zlib1g-dev libjansson-dev npm"
test_pkgs="postgresql openssl chromium clang libclang-rt-14-dev nghttp2-client nghttp2-server procps"
case "${1:-all}" in
build) pkgs=$build_pkgs ;;
test) pkgs=$test_pkgs ;;
*) pkgs="$build_pkgs $test_pkgs" ;;
esac
missing=""
for p in $pkgs; do
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
