#!/usr/bin/env python3
"""How long this machine's disk takes to fsync a small write, the floor of every durable
decision. Writes 16 KB, fsyncs, sleeps 0.5 ms, 3,000 times, in a file under target/, and
prints percentiles. Run it pinned, alone and beside other work, to compare:

    taskset -c 0 python3 scripts/fsync_probe.py alone
"""
import os
import sys
import time

path = os.path.join(os.path.dirname(__file__), "..", "target", "fsync-probe.bin")
os.makedirs(os.path.dirname(path), exist_ok=True)
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
lat = []
buf = b"x" * 16384
try:
    for i in range(3000):
        os.pwrite(fd, buf, (i % 64) * 16384)
        t = time.perf_counter()
        os.fsync(fd)
        lat.append(time.perf_counter() - t)
        time.sleep(0.0005)
finally:
    os.close(fd)
    os.unlink(path)
lat.sort()


def q(p):
    return lat[int(p * (len(lat) - 1))] * 1000


label = sys.argv[1] if len(sys.argv) > 1 else "fsync"
print(f"{label}: fsync p50 {q(.5):.3f} p90 {q(.9):.3f} p99 {q(.99):.3f} ms, mean {sum(lat) / len(lat) * 1000:.3f} ms")
