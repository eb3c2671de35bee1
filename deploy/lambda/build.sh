#!/usr/bin/env bash
# Builds the post-confirmation Lambda for the provided.al2023 runtime (x86_64) with cargo-lambda
# (installed into .venv from PyPI; it brings zig, which links against an old glibc), then checks
# the artifact: a zip holding `bootstrap`, an x86-64 ELF needing glibc <= 2.34 (Amazon Linux
# 2023's), that starts and fails fast when no Runtime API answers.
# Output: target/lambda/post-confirmation/bootstrap.zip
set -euo pipefail
cd "$(dirname "$0")/../.."
. script/lib/ensure.sh

ensure_venv
say "cargo lambda build (release, x86_64, provided.al2023)"
PATH="$VENV/bin:$PATH" cargo lambda build --release --locked -p post-confirmation --bin post-confirmation --output-format zip

zip=target/lambda/post-confirmation/bootstrap.zip
[ -f "$zip" ] || { echo "error: $zip was not produced" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$VENV/bin/python" - "$zip" "$work" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert names == ["bootstrap"], f"zip must hold exactly bootstrap, has {names}"
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
chmod +x "$work/bootstrap"
file_info=$(od -An -c -N4 "$work/bootstrap" | tr -d ' ')
[ "$file_info" = "177ELF" ] || { echo "error: bootstrap is not an ELF binary" >&2; exit 1; }
newest_glibc=$(objdump -T "$work/bootstrap" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
if [ "$(printf '%s\n2.34\n' "$newest_glibc" | sort -V | tail -n 1)" != "2.34" ]; then
  echo "error: bootstrap needs glibc $newest_glibc; provided.al2023 has 2.34" >&2
  exit 1
fi
closed_port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
set +e
out=$(AWS_LAMBDA_RUNTIME_API="127.0.0.1:$closed_port" AWS_LAMBDA_FUNCTION_NAME=check \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 AWS_LAMBDA_FUNCTION_VERSION=1 \
  AWS_LAMBDA_LOG_STREAM_NAME=check AWS_LAMBDA_LOG_GROUP_NAME=check \
  CONNECTION_URL="postgres://check@127.0.0.1:1/check" timeout 20 "$work/bootstrap" 2>&1)
status=$?
set -e
if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || ! grep -q "Connection refused" <<<"$out"; then
  echo "error: bootstrap did not start and fail fast without a Runtime API (status $status): $out" >&2
  exit 1
fi
say "built $zip ($(wc -c <"$zip") bytes; bootstrap needs glibc $newest_glibc, runs on this machine)"
