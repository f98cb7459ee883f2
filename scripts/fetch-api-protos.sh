#!/bin/sh
# Fetches the public Temporal API .proto files from a pinned npm package into the build
# folder and verifies the package checksum. The protos are never copied into git.
# Usage: fetch-api-protos.sh OUTDIR
# TD_API_TARBALL=/path/to/temporalio-core-bridge-1.24.0.tgz uses a local copy instead of npm.
set -eu
out=$1
pkg=@temporalio/core-bridge
ver=1.24.0
sha=5f58de2e98bdc4711be3cbb06cc08bc39cb274cbbac41d02f0352bfe1630a8f7
inner=package/sdk-core/crates/protos/protos
tgz="$out/core-bridge-$ver.tgz"

mkdir -p "$out"
if [ -n "${TD_API_TARBALL:-}" ]; then
    cp "$TD_API_TARBALL" "$tgz.part"
    mv "$tgz.part" "$tgz"
elif [ ! -f "$tgz" ]; then
    command -v npm >/dev/null 2>&1 || { echo "fetch-api-protos: npm is needed to fetch $pkg@$ver (apt-get install npm)" >&2; exit 1; }
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$pkg@$ver" >/dev/null)
    mv "$tmp"/*.tgz "$tgz"
    rm -rf "$tmp"
fi
got=$(sha256sum "$tgz" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
    echo "fetch-api-protos: checksum mismatch for $tgz: got $got, want $sha" >&2
    rm -f "$tgz"
    exit 1
fi
rm -rf "$out/protos" "$out/x"
mkdir -p "$out/x"
tar xzf "$tgz" -C "$out/x" "$inner/api_upstream" "$inner/google/rpc/status.proto" \
    "$inner/grpc/health/v1/health.proto" "$inner/testsrv_upstream"
mv "$out/x/$inner" "$out/protos"
rm -rf "$out/x"
touch "$out/protos/.stamp"
