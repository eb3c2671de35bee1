#!/usr/bin/env python3
"""The server's memory with every connection slot taken, two ways (issue 23):

1. heads: every slot holds a request head of just under the 16 KiB limit, never finished;
2. answers: every slot asked for the largest feed page (limit=100, replies included) and reads
   none of it, for less than the write timeout.

Runs `cruddur up` (the binary given, default target/debug/cruddur) on a throw-away embedded
cluster, fills the feed with the longest cruds and replies the API takes, opens MAX_CONNECTIONS
connections from 16 loopback addresses (the per-address cap is 128), and reads VmRSS/VmHWM from
/proc. Bounded: 2,048 connections, a few seconds per phase. Not part of CI; the README quotes it.

    python3 bench/connection_memory.py [path/to/cruddur]
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CONNECTIONS = 2048
ADDRESSES = [f"127.0.1.{i}" for i in range(1, 17)]  # 16 x 128 = 2,048
HEAD_FILL = 16 * 1024 - 200


def rss_kib(pid):
    status = open(f"/proc/{pid}/status").read()
    field = lambda name: int(re.search(rf"{name}:\s+(\d+) kB", status).group(1))
    return field("VmRSS"), field("VmHWM")


def post(base, path, body):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def open_from(source, port):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/cruddur"
    home = tempfile.mkdtemp(prefix="cruddur-memory-", dir="/tmp")
    os.chmod(home, 0o755)
    env = dict(os.environ, CRUDDUR_HOME=home, RUST_LOG="warn")
    server = subprocess.Popen(
        [binary, "up", "--bind", "127.0.0.1:0", "--no-write-limits"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        for line in server.stdout:
            if line.startswith("cruddur is up: "):
                base = line.split("cruddur is up: ")[1].strip().replace("/api/activities/home", "")
                break
        port = int(base.rsplit(":", 1)[1])
        # The largest page: 100 cruds of 280 characters, each with replies of 1,024.
        for i in range(100):
            crud = post(base, "/api/activities", {"message": "c" * 280, "ttl": "1-day", "user_handle": "bayko"})
            for _ in range(3):
                post(base, f"/api/activities/{crud['uuid']}/reply", {"message": "r" * 1024, "user_handle": "andrewbrown"})
        with urllib.request.urlopen(base + "/api/activities/home?limit=100", timeout=10) as answer:
            page = len(answer.read())
        idle, _ = rss_kib(server.pid)

        rows = [("idle, after loading the feed", idle)]
        for phase, request in [
            ("every slot: an unfinished 16 KiB request head",
             b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Filler: " + b"f" * HEAD_FILL),
            (f"every slot: an unread {page // 1024} KiB feed page",
             b"GET /api/activities/home?limit=100 HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        ]:
            held = []
            for i in range(CONNECTIONS):
                s = open_from(ADDRESSES[i % len(ADDRESSES)], port)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(request)
                held.append(s)
            time.sleep(3)  # under the 5 s write timeout and the 10 s header timeout
            rss, _ = rss_kib(server.pid)
            rows.append((phase, rss))
            for s in held:
                s.close()
            time.sleep(2)
        _, peak = rss_kib(server.pid)
        print(f"feed page at limit=100: {page} bytes; {CONNECTIONS} connections")
        print("| state | server RSS |")
        print("|---|---|")
        for what, kib in rows:
            print(f"| {what} | {kib / 1024:.0f} MiB |")
        print(f"| peak over the run (VmHWM) | {peak / 1024:.0f} MiB |")
    finally:
        server.terminate()
        server.wait(timeout=30)
        subprocess.run([binary, "local", "stop"], env=env, capture_output=True)


if __name__ == "__main__":
    main()
