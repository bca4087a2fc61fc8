#!/usr/bin/env python3
"""Soak: `palisade serve` (release build) under continuous load for a long time, with
its resident memory sampled, to show that memory stays flat.

Usage: tests/perf/soak.py [SECONDS] [CONNECTIONS]     (default 600 s, 64 connections)

Starts unbound (local records, as tests/perf/dns-outage does) and the daemon with
authentication on, then runs `palisade bench` back to back on a mixed load (the 5 KB
bench message and every fixture message, threats included) until the time is up,
sampling the daemon's VmRSS every 10 s. Prints a CSV (seconds, RSS KiB, messages so
far) and a summary: RSS after warm-up, at the end, the largest, and the growth from the
warm-up sample to the end.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target/release/palisade")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    conns = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    if not os.access(BIN, os.X_OK):
        sys.exit("build first: cargo build --release")
    work = tempfile.mkdtemp(prefix="palisade-soak.")
    dns_port = free_port()
    with open(os.path.join(work, "unbound.conf"), "w") as f:
        f.write(f"""server:
  interface: 127.0.0.1@{dns_port}
  port: {dns_port}
  do-ip6: no
  do-daemonize: no
  use-syslog: no
  username: ""
  chroot: ""
  directory: "{work}"
  pidfile: "{work}/unbound.pid"
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  num-threads: 1
  local-zone: "." static
  local-data: "example.org. 3600 IN TXT \\"v=spf1 ip4:192.0.2.0/24 -all\\""
  local-data: "_dmarc.county.example. 3600 IN TXT \\"v=DMARC1; p=none\\""
remote-control:
  control-enable: no
""")
    procs = []
    try:
        procs.append(subprocess.Popen(["unbound", "-d", "-c", os.path.join(work, "unbound.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        port, http = free_port(), free_port()
        env = dict(os.environ,
                   PALISADE__MILTER__LISTEN=f"inet:127.0.0.1:{port}",
                   PALISADE__HTTP__LISTEN=f"127.0.0.1:{http}",
                   PALISADE__STATE__DIR=os.path.join(work, "state"),
                   PALISADE__DNS__NAMESERVERS=f"127.0.0.1:{dns_port}")
        log = open(os.path.join(work, "serve.log"), "w")
        daemon = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log)
        procs.append(daemon)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        inputs = [os.path.join(ROOT, "tests/fixtures/bench/5k.eml"),
                  os.path.join(ROOT, "tests/fixtures/messages")]
        total = [0]
        errors = [0]
        stop = time.time() + seconds

        def load():
            while time.time() < stop:
                out = subprocess.run([BIN, "bench", "--json", "--target", f"inet:127.0.0.1:{port}",
                                      "--connections", str(conns), "--messages", "20000", *inputs],
                                     capture_output=True, text=True)
                if out.returncode != 0:
                    errors[0] += 1
                    continue
                d = json.loads(out.stdout)
                total[0] += d["messages"]
                errors[0] += d["errors"]

        t = threading.Thread(target=load)
        start = time.time()
        t.start()
        samples = []
        print("seconds,rss_kib,messages")
        while t.is_alive():
            s = (round(time.time() - start), rss_kib(daemon.pid), total[0])
            samples.append(s)
            print("%d,%d,%d" % s, flush=True)
            time.sleep(10)
        t.join()
        s = (round(time.time() - start), rss_kib(daemon.pid), total[0])
        samples.append(s)
        print("%d,%d,%d" % s)
        warm = next((x for x in samples if x[0] >= 60), samples[0])
        peak = max(x[1] for x in samples)
        end = samples[-1]
        rate = end[2] / max(end[0], 1)
        print(f"# {end[2]} messages in {end[0]} s ({rate:.0f}/s), {errors[0]} errors")
        print(f"# RSS after warm-up ({warm[0]} s): {warm[1]} KiB; at the end: {end[1]} KiB; "
              f"largest: {peak} KiB; growth from warm-up to end: {end[1] - warm[1]:+d} KiB")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
