# Installs what cruddur's scripts need when a fresh Debian/Ubuntu machine lacks it.
# Sourced by script/test, script/server and script/bench; every function is a no-op when the
# tool is already there.

say() { printf '== %s\n' "$*"; }

# Runs a command as root: directly when we are root, through sudo when it exists.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "error: need root to run: $* (install it yourself or run as root)" >&2
    return 1
  fi
}

have_pg_server() {
  if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/initdb" ]; then return 0; fi
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && return 0
  done
  command -v initdb >/dev/null 2>&1
}

# PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) from apt, without Debian's
# default cluster: cruddur runs its own private clusters.
ensure_postgres() {
  if have_pg_server; then return 0; fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: PostgreSQL server binaries not found and apt-get is unavailable; install PostgreSQL >= 13 and set PG_BIN to its bin folder" >&2
    return 1
  fi
  say "installing PostgreSQL (apt-get install postgresql postgresql-contrib)"
  as_root mkdir -p /etc/postgresql-common
  if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
    echo 'create_main_cluster = false' | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confold postgresql postgresql-contrib >/dev/null
  have_pg_server
}

# PgBouncer (Debian's package), for the API tests behind a transaction pooler. The package's
# own service is not wanted: the tests start theirs on a free loopback port.
ensure_pgbouncer() {
  if [ -x /usr/sbin/pgbouncer ]; then return 0; fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: pgbouncer not found and apt-get is unavailable; install PgBouncer (/usr/sbin/pgbouncer)" >&2
    return 1
  fi
  say "installing PgBouncer (apt-get install pgbouncer)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confold pgbouncer >/dev/null
  # The package may start its service; it is not ours to keep running.
  as_root service pgbouncer stop >/dev/null 2>&1 || true
  [ -x /usr/sbin/pgbouncer ]
}

# A project virtualenv (.venv) holding the Python tools of script/requirements-dev.txt
# (cargo-lambda for the Lambda build). Sets VENV.
ensure_venv() {
  VENV="$(pwd)/.venv"
  if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
      rm -rf "$VENV"
      say "installing python3-venv (apt-get)"
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$VENV"
    fi
  fi
  local stamp="$VENV/.requirements"
  if ! cmp -s script/requirements-dev.txt "$stamp" 2>/dev/null; then
    say "installing Python tools into .venv"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r script/requirements-dev.txt
    cp script/requirements-dev.txt "$stamp"
  fi
}

# cargo-machete (unused dependencies), installed from crates.io into ~/.cargo/bin when missing.
ensure_cargo_machete() {
  if command -v cargo-machete >/dev/null 2>&1; then return 0; fi
  say "installing cargo-machete (cargo install --locked)"
  cargo install --locked --quiet cargo-machete
}

# cargo-deny (licenses, bans and sources of the dependency graph: deny.toml), installed from
# crates.io into ~/.cargo/bin when missing. A debug build: it installs in about a minute instead
# of several (its release profile is fat LTO), and a check takes seconds either way.
ensure_cargo_deny() {
  if command -v cargo-deny >/dev/null 2>&1; then return 0; fi
  say "installing cargo-deny (cargo install --locked --debug)"
  cargo install --locked --debug --quiet cargo-deny@0.20.2
}

# Fails early, and says why, when the disk under target/ cannot hold a build: a full disk
# otherwise shows up minutes later as a linker crash (ld: Bus error, LLVM "IO failure").
ensure_disk_space() {
  local need_gb="$1" dir free_kb
  dir="${CARGO_TARGET_DIR:-target}"
  mkdir -p "$dir"
  free_kb="$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')"
  if [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
    echo "error: $((free_kb / 1024 / 1024)) GB free under $dir; a full build needs about $need_gb GB (cargo clean, or free some disk)" >&2
    return 1
  fi
}

# Debian's Chromium, for the browser checks (script/browser). Never a browser a tool downloads.
# Debian's Chromium, and a colour emoji font (the page's timers and users' cruds use emoji; without
# one, screenshots show empty boxes).
ensure_chromium() {
  if [ -x /usr/bin/chromium ] && [ -d /usr/share/fonts/truetype/noto ] \
    && ls /usr/share/fonts/truetype/noto/NotoColorEmoji*.ttf >/dev/null 2>&1; then return 0; fi
  say "installing Chromium and an emoji font (apt-get install chromium fonts-noto-color-emoji)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
}

# Node.js and the browser checks' npm packages (tests/browser, from its lockfile, into its own
# node_modules; playwright-core never downloads a browser).
ensure_browser_modules() {
  if ! command -v npm >/dev/null 2>&1; then
    say "installing Node.js (apt-get install nodejs npm)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  local stamp=tests/browser/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || ! cmp -s tests/browser/package-lock.json "$stamp.source" 2>/dev/null; then
    say "installing the browser checks' npm packages (tests/browser)"
    (cd tests/browser && npm ci --silent --no-audit --no-fund)
    cp tests/browser/package-lock.json "$stamp.source"
  fi
}
