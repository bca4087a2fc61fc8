#!/usr/bin/env python3
"""A DNS server that receives every query and answers none, on UDP and TCP: what a
resolver behind a dead network link looks like (queries dropped, not refused).

Usage: tests/perf/blackhole-dns.py PORT
"""
import socket
import sys
import time

port = int(sys.argv[1])
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", port))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", port))
tcp.listen(128)
udp.setblocking(False)
tcp.setblocking(False)
held = []
while True:
    # Drain what arrives so the kernel never refuses; answer nothing.
    try:
        while True:
            udp.recvfrom(4096)
    except BlockingIOError:
        pass
    try:
        while True:
            conn, _ = tcp.accept()
            held.append(conn)
    except BlockingIOError:
        pass
    time.sleep(0.01)
