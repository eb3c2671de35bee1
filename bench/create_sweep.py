"""Create throughput against concurrency: where group commit pays and where it cannot.

`script/bench --create-sweep` runs this after the same setup as run.py. On a 1,000-activity
database it measures, interleaved per round, for c = 1 … 64:
  - ours: `POST /api/activities` on the release server (group commit, DB_CREATE_LANES=4);
  - ours without group commit: the same binary with a lane for every request
    (DB_CREATE_LANES=1024), so each crud is its own statement and commit;
  - pgbench of the original's create (insert, then re-select) and of our single-crud statement.
Reports req/s (median of the rounds), ours ÷ pgbench original, and how many requests shared a
commit (pg_stat_database.xact_commit). Output: bench/results/<stamp>-create-sweep.md.
"""

import argparse
import statistics
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import run as R

CONCURRENCY = [1, 2, 4, 8, 16, 32, 64]
ROUNDS, SECONDS = 3, 5
DB = "sweep_1000"


def commits(cluster):
    return int(cluster.scalar(DB, f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{DB}'"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", required=True)
    parser.parse_args()
    R.WORK.mkdir(parents=True, exist_ok=True)
    cluster = R.Cluster(R.WORK / "cluster")
    cluster.start()
    files = R.pgbench_scripts(R.WORK)
    url = cluster.url(DB)
    R.load_activities(cluster, DB, 1_000)
    cluster.psql_file(DB, R.BENCH / "sql" / "original_schema.sql")
    cluster.psql(DB, "VACUUM ANALYZE")
    servers = {}
    try:
        for name, lanes, port in (("ours", "1", 4590), ("ours, no group commit", "1024", 4591)):
            env = dict(cluster.env, CONNECTION_URL=url, DB_CREATE_LANES=lanes)
            servers[name] = (R.start([str(R.CRUDDUR), "serve", "--bind", f"127.0.0.1:{port}", "--no-write-limits"],
                                     env=env), port)
            R.wait_http(f"http://127.0.0.1:{port}/api/health-check")
        systems = [(name, (lambda p: lambda c, s: R.wrk(
                        f"http://127.0.0.1:{p}/api/activities", c, s, R.CREATE_BODIES))(port))
                   for name, (_, port) in servers.items()]
        systems += [
            ("pgbench original SQL", lambda c, s: R.pgbench(url, files["orig_create"], c, s)),
            ("pgbench our SQL",
             lambda c, s: R.pgbench(url, files["ours_create"], c, s, R.OUR_SESSION)),
        ]
        results = {}
        for r in range(ROUNDS):
            for c in CONCURRENCY:
                for name, run in systems:
                    run(c, 1)  # warm-up
                    before = commits(cluster)
                    res = run(c, SECONDS)
                    res["per_commit"] = res["requests"] / max(commits(cluster) - before, 1)
                    results.setdefault((name, c), []).append(res)
                    R.log(f"r{r + 1} c={c:<3} {name:24} {res['rps']:>9,.0f}/s")
                    R.remove_created(cluster, DB)
    finally:
        for proc, _ in servers.values():
            R.stop(proc)
        cluster.stop()
    write(results)


def write(results):
    med = {k: statistics.median(x["rps"] for x in v) for k, v in results.items()}
    shared = {k: statistics.median(x["per_commit"] for x in v) for k, v in results.items()}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    md = [f"# create throughput against concurrency {stamp}", "",
          f"1,000 activities; {ROUNDS} rounds x {SECONDS} s per point after 1 s of warm-up, "
          "medians, systems interleaved; wrk keep-alive, pgbench -M prepared.", "",
          "| c | ours | ours, no group commit | pgbench original SQL | pgbench our SQL | ours / original | "
          "ours, requests per commit |", "|---|---|---|---|---|---|---|"]
    for c in CONCURRENCY:
        ours = med[("ours", c)]
        orig = med[("pgbench original SQL", c)]
        md.append(f"| {c} | {ours:,.0f} | {med[('ours, no group commit', c)]:,.0f} | {orig:,.0f} | "
                  f"{med[('pgbench our SQL', c)]:,.0f} | {ours / orig:.2f}x | "
                  f"{shared[('ours', c)]:.1f} |")
    path = R.RESULTS / f"{stamp}-create-sweep.md"
    R.RESULTS.mkdir(exist_ok=True)
    path.write_text("\n".join(md) + "\n")
    R.log(f"report: {path}")
    print(path.read_text())


if __name__ == "__main__":
    main()
