#!/usr/bin/env python3
"""Memory per idle milter connection: opens N connections to a running `palisade serve`,
negotiates and sends CONNECT and HELO on each as Postfix does, then reports the daemon's
RSS growth per connection.

Usage: tests/perf/idle-rss.py PID HOST:PORT [N]
"""
import socket
import struct
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


def packet(code, data=b""):
    return struct.pack(">I", len(data) + 1) + code + data


def read_packet(s):
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            raise SystemExit("connection closed")
        head += chunk
    (n,) = struct.unpack(">I", head)
    data = b""
    while len(data) < n:
        data += s.recv(n - len(data))
    return data


def main():
    pid, target = int(sys.argv[1]), sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    host, port = target.rsplit(":", 1)
    before = rss_kib(pid)
    conns = []
    for i in range(n):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
        read_packet(s)
        addr = f"192.0.2.{1 + i % 250}".encode()
        s.sendall(packet(b"C", b"client.example\x004" + struct.pack(">H", 40000) + addr + b"\x00"))
        read_packet(s)
        s.sendall(packet(b"H", b"client.example\x00"))
        conns.append(s)
    time.sleep(1)
    after = rss_kib(pid)
    per = (after - before) / n
    print(f"connections={n} rss_before_kib={before} rss_after_kib={after} per_connection_kib={per:.1f}")
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
