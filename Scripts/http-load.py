#!/usr/bin/env python3
"""A load generator for the daemon's endpoints (bench.sh's endpoints part): CLIENTS concurrent
keep-alive connections, each sending GET PATH (cycling through the paths given), waiting for the
whole answer, pausing PAUSE seconds, again, until SIGTERM or SECONDS have passed; then one line:
requests, answers by status, errors, requests per second, median and 99th percentile latency, and its own CPU time.

usage: http-load.py HOST PORT CLIENTS PAUSE SECONDS PATH [PATH...]"""
import asyncio
import resource
import signal
import sys
import time

host, port, clients, pause, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
paths = sys.argv[6:]
latencies, statuses, errors = [], {}, [0]
stop = asyncio.Event()


async def client(n):
    reader = writer = None
    i = n
    while not stop.is_set():
        path = paths[i % len(paths)]
        i += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            t0 = time.monotonic()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.monotonic() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            if any(line.lower() == "connection: close" for line in lines):
                writer.close()
                writer = None
        except Exception:
            errors[0] += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.05)
        if pause > 0:
            await asyncio.sleep(pause)


async def main():
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.call_later(seconds, stop.set)
    t0 = time.monotonic()
    tasks = [asyncio.create_task(client(n)) for n in range(clients)]
    await stop.wait()
    elapsed = time.monotonic() - t0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
    print(f"{len(latencies)} requests in {elapsed:.1f} s ({len(latencies) / elapsed:.0f}/s), answers {statuses}, "
          f"errors {errors[0]}, latency p50 {pct(0.5):.1f} ms p99 {pct(0.99):.1f} ms, "
          f"the load generator's own CPU {cpu():.1f} s")


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


asyncio.run(main())
