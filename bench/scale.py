"""Scale-out figures (issue 16): reads on a standby, the service behind PgBouncer, and
replication lag, all in one run on one machine (`script/bench --scale`, ~6 min).

On a 100,000-activity database in the embedded cluster, with its standby
(`cruddur local standby start`) and a PgBouncer 1.18 in transaction mode in front of the primary:
  - feed, database read on every request (NO_FEED_CACHE), interleaved per round, c = 8 and 32:
    the primary direct; reads on the standby (READ_CONNECTION_URL); through PgBouncer
    (DB_POOLER=transaction: unnamed statements, planned per execution);
  - create, c = 32: direct, and through PgBouncer;
  - replication lag as the primary reports it (pg_stat_replication.replay_lag, sampled every
    100 ms), idle and under the c = 32 create load.
Same table, same rows returned, same binary for every system. Medians over the rounds.
Output: bench/results/<stamp>-scale.md. Ratios are what to read: these machines swing.
"""

import json
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import run as R

SIZE = 100_000
DB = "scale_100k"
ROUNDS, SECONDS = 3, 5
PRIMARY_PORT, STANDBY_PORT, BOUNCER_PORT = 4580, 4581, 4582
PGBOUNCER = "/usr/sbin/pgbouncer"


def standby_url(cluster):
    root = cluster.root / "standby"
    password = (root / "password").read_text().strip()
    port = int((root / "port").read_text().strip())
    return f"postgres://postgres:{password}@127.0.0.1:{port}/{DB}?sslmode=disable"


def start_pgbouncer(cluster):
    """PgBouncer in transaction mode on 127.0.0.1, reaching the primary over its socket."""
    import shutil
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-", dir="/tmp"))
    port = R.free_port()
    (folder / "userlist.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={cluster.root / 'run'} port={cluster.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "pool_mode = transaction\ndefault_pool_size = 16\nmax_client_conn = 1000\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
        f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n")
    shutil.chown(folder, "postgres", "postgres")
    for f in folder.iterdir():
        shutil.chown(f, "postgres", "postgres")
    proc = R.start([PGBOUNCER, "-u", "postgres", str(folder / "pgbouncer.ini")])
    deadline = time.time() + 10
    while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)]).returncode:
        if time.time() > deadline:
            raise RuntimeError("pgbouncer did not start")
        time.sleep(0.05)
    return proc, port


def replay_lag_ms(cluster):
    out = cluster.scalar(
        "postgres",
        "SELECT coalesce(extract(epoch FROM replay_lag) * 1000, 0) FROM pg_stat_replication")
    return float(out) if out else None


def sample_lag(cluster, seconds):
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = replay_lag_ms(cluster)
        if value is not None:
            samples.append(value)
        time.sleep(0.1)
    return samples


def summary(samples):
    ordered = sorted(samples)
    return {"n": len(ordered), "p50": statistics.median(ordered),
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], "max": ordered[-1]}


def main():
    R.WORK.mkdir(parents=True, exist_ok=True)
    cluster = R.Cluster(R.WORK / "cluster")
    cluster.start()
    R.load_activities(cluster, DB, SIZE)
    cluster.psql(DB, "VACUUM ANALYZE")
    cluster.cli("local", "standby", "start", "--fresh")
    bouncer, bouncer_port = start_pgbouncer(cluster)
    primary = cluster.url(DB)
    through = f"postgres://postgres@127.0.0.1:{bouncer_port}/{DB}?sslmode=disable"
    common = ["serve", "--no-feed-cache", "--no-write-limits"]
    configs = {
        "primary direct": (PRIMARY_PORT, dict(CONNECTION_URL=primary)),
        "reads on the standby": (STANDBY_PORT, dict(CONNECTION_URL=primary,
                                                    READ_CONNECTION_URL=standby_url(cluster))),
        "through PgBouncer": (BOUNCER_PORT, dict(CONNECTION_URL=through, DB_POOLER="transaction",
                                                 DIRECT_CONNECTION_URL=primary)),
    }
    servers = []
    try:
        for name, (port, env) in configs.items():
            servers.append(R.start([str(R.CRUDDUR), *common, "--bind", f"127.0.0.1:{port}"],
                                   env=dict(cluster.env, **env)))
            R.wait_http(f"http://127.0.0.1:{port}/api/health-check")
        # The same bytes from each: the same rows.
        bodies = {name: fetch(f"http://127.0.0.1:{port}/api/activities/home")
                  for name, (port, _) in configs.items()}
        assert len(set(bodies.values())) == 1, "the systems returned different feeds"
        # The user and status pages of the newest crud's author, read the same way.
        newest = json.loads(bodies["primary direct"])[0]
        pages = {
            "feed": "/api/activities/home",
            "user page": f"/api/activities/@{newest['handle']}",
            "status page": f"/api/activities/@{newest['handle']}/status/{newest['uuid']}",
        }
        pooled = {(page, name): [] for page in pages
                  for name in ("primary direct", "through PgBouncer")}
        feed = {(name, c): [] for name in configs for c in (8, 32)}
        create = {name: [] for name in ("primary direct", "through PgBouncer")}
        for r in range(ROUNDS):
            R.log(f"round {r + 1}/{ROUNDS}")
            for c in (8, 32):
                for name, (port, _) in configs.items():
                    url = f"http://127.0.0.1:{port}/api/activities/home"
                    res = R.measure(lambda cc, s: R.wrk(url, cc, s), c, SECONDS, cluster, None)
                    feed[(name, c)].append(res)
                    R.log(f"  feed {name} c={c}: {res['rps']:.0f} req/s, p99 {res['p99_ms']:.2f} ms,"
                          f" pg {res['cpu_pg_us']:.0f} µs, errors {res['errors']}")
            for page, path in pages.items():
                for name in ("primary direct", "through PgBouncer"):
                    url = f"http://127.0.0.1:{configs[name][0]}{path}"
                    # PgBouncer's own CPU, in the "server" column: the pooler is a process too.
                    res = R.measure(lambda cc, s: R.wrk(url, cc, s), 8, SECONDS, cluster, bouncer)
                    pooled[(page, name)].append(res)
                    R.log(f"  {page} {name} c=8: {res['rps']:.0f} req/s, pg {res['cpu_pg_us']:.0f} µs, "
                          f"pgbouncer {res['cpu_server_us']:.0f} µs, errors {res['errors']}")
            for name in create:
                port = configs[name][0]
                url = f"http://127.0.0.1:{port}/api/activities"
                res = R.measure(lambda cc, s: R.wrk(url, cc, s, R.CREATE_BODIES), 32, SECONDS,
                                cluster, None)
                create[name].append(res)
                R.log(f"  create {name}: {res['rps']:.0f} req/s, errors {res['errors']}")
        R.log("replication lag, idle (10 s)")
        idle = summary(sample_lag(cluster, 10))
        R.log("replication lag under the c = 32 create load (10 s)")
        holder = {}
        load = threading.Thread(target=lambda: holder.update(
            r=R.wrk(f"http://127.0.0.1:{PRIMARY_PORT}/api/activities", 32, 10, R.CREATE_BODIES)))
        load.start()
        busy = summary(sample_lag(cluster, 10))
        load.join()
        write_report(feed, create, idle, busy, holder["r"], pooled)
    finally:
        for proc in servers:
            R.stop(proc)
        R.stop(bouncer)
        cluster.cli("local", "standby", "stop", check=False)
        cluster.stop()


def fetch(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def med(points, key):
    return statistics.median(p[key] for p in points)


def write_report(feed, create, idle, busy, load, pooled):
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    lines = [f"# Scale-out figures, {stamp}", "",
             f"{SIZE:,} activities; {ROUNDS} rounds × {SECONDS} s, interleaved; medians. "
             "Feed: the database read on every request (no feed cache), 20 items.", "",
             "## Targets (issue 26: reads through a transaction pooler, c = 8)", "",
             "| page | through PgBouncer × direct (target ≥ 0.80) | PostgreSQL µs/req, PgBouncer ÷ direct "
             "(target ≤ 1.30) | PgBouncer's own CPU µs/req | verdict |", "|---|---|---|---|---|"]
    for page in ("feed", "user page", "status page"):
        direct, bounced = pooled[(page, "primary direct")], pooled[(page, "through PgBouncer")]
        ratio = med(bounced, "rps") / med(direct, "rps")
        cpu = med(bounced, "cpu_pg_us") / med(direct, "cpu_pg_us")
        errors = sum(p["errors"] for p in direct + bounced)
        ok = ratio >= 0.8 and cpu <= 1.3 and errors == 0
        lines.append(f"| {page} | {ratio:.2f} ({med(bounced, 'rps'):.0f} vs {med(direct, 'rps'):.0f} req/s) | "
                     f"{cpu:.2f} ({med(bounced, 'cpu_pg_us'):.0f} vs {med(direct, 'cpu_pg_us'):.0f}) | "
                     f"{med(bounced, 'cpu_server_us'):.0f} | "
                     f"{'met' if ok else '**not met**'}{'' if errors == 0 else f', {errors} errors'} |")
    lines += ["", "## Feed, primary and standby", "",
             "| feed | c | req/s | × primary direct | p99 ms | primary's Postgres µs/req | errors |",
             "|---|---|---|---|---|---|---|"]
    for c in (8, 32):
        base = med(feed[("primary direct", c)], "rps")
        for name in ("primary direct", "reads on the standby", "through PgBouncer"):
            pts = feed[(name, c)]
            lines.append(f"| {name} | {c} | {med(pts, 'rps'):.0f} | {med(pts, 'rps') / base:.2f} | "
                         f"{med(pts, 'p99_ms'):.2f} | {med(pts, 'cpu_pg_us'):.0f} | "
                         f"{sum(p['errors'] for p in pts)} |")
    base = med(create["primary direct"], "rps")
    lines += ["", "| create, c = 32 | req/s | × direct | p99 ms | errors |", "|---|---|---|---|---|"]
    for name, pts in create.items():
        lines.append(f"| {name} | {med(pts, 'rps'):.0f} | {med(pts, 'rps') / base:.2f} | "
                     f"{med(pts, 'p99_ms'):.2f} | {sum(p['errors'] for p in pts)} |")
    lines += ["", "Replication lag (pg_stat_replication.replay_lag on the primary, every 100 ms; "
              "0 when nothing is left to replay):", "",
              "| | samples | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|",
              f"| idle | {idle['n']} | {idle['p50']:.2f} | {idle['p99']:.2f} | {idle['max']:.2f} |",
              f"| under {load['rps']:.0f} creates/s (c = 32) | {busy['n']} | {busy['p50']:.2f} | "
              f"{busy['p99']:.2f} | {busy['max']:.2f} |", ""]
    path = R.RESULTS / f"{stamp}-scale.md"
    path.write_text("\n".join(lines))
    R.log(f"wrote {path}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
