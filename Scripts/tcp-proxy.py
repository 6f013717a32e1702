#!/usr/bin/env python3
"""A loopback TCP proxy for the tests of pgkeep against a network that fails.

    tcp-proxy.py --target PORT --port-file FILE [--freeze-after BYTES] [--freeze-after-up BYTES]
                 [--reset-after BYTES]

Listens on a free 127.0.0.1 port (written to FILE once listening) and forwards every
connection to 127.0.0.1:PORT. Faults, for the connections open when they strike (new
connections are forwarded normally, so pgkeep's own clean-up can still reach the server):
- freeze: stop forwarding in both directions and keep the sockets open, as a peer that
  acknowledges every packet but never answers (TCP keepalives cannot see it);
- reset: close with RST (SO_LINGER 0), as a server or a middlebox that went away.
They strike after BYTES forwarded on one connection (server to client for --freeze-after,
client to server for --freeze-after-up and --reset-after), or on SIGUSR1 (freeze) and SIGUSR2 (reset). Ends on SIGTERM.
"""
import argparse
import selectors
import signal
import socket
import struct
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--target", type=int, required=True)
parser.add_argument("--port-file", required=True)
parser.add_argument("--freeze-after", type=int, default=0)
parser.add_argument("--freeze-after-up", type=int, default=0)
parser.add_argument("--reset-after", type=int, default=0)
args = parser.parse_args()

sel = selectors.DefaultSelector()
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
listener.setblocking(False)
sel.register(listener, selectors.EVENT_READ, None)
pending = []  # signals to act on, outside the handler


class Conn:
    def __init__(self, client, server):
        self.client, self.server = client, server
        self.down = 0  # server -> client
        self.up = 0  # client -> server
        self.frozen = False


conns = []


def freeze(c):
    c.frozen = True
    for s in (c.client, c.server):
        try:
            sel.unregister(s)
        except Exception:
            pass


def reset(c):
    for s in (c.client, c.server):
        try:
            sel.unregister(s)
        except Exception:
            pass
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        except Exception:
            pass
    if c in conns:
        conns.remove(c)


def close(c):
    for s in (c.client, c.server):
        try:
            sel.unregister(s)
        except Exception:
            pass
        s.close()
    if c in conns:
        conns.remove(c)


signal.signal(signal.SIGUSR1, lambda *_: pending.append("freeze"))
signal.signal(signal.SIGUSR2, lambda *_: pending.append("reset"))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(listener.getsockname()[1]))
import os

os.rename(args.port_file + ".tmp", args.port_file)

while True:
    for what in pending[:]:
        pending.remove(what)
        for c in list(conns):
            if not c.frozen:
                freeze(c) if what == "freeze" else reset(c)
    for key, _ in sel.select(timeout=0.2):
        if key.data is None:
            client, _ = listener.accept()
            server = socket.create_connection(("127.0.0.1", args.target))
            c = Conn(client, server)
            conns.append(c)
            sel.register(client, selectors.EVENT_READ, (c, True))
            sel.register(server, selectors.EVENT_READ, (c, False))
            continue
        c, from_client = key.data
        if c.frozen or c not in conns:
            continue
        src, dst = (c.client, c.server) if from_client else (c.server, c.client)
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            close(c)
            continue
        try:
            dst.sendall(data)
        except OSError:
            close(c)
            continue
        if from_client:
            c.up += len(data)
            if args.reset_after and c.up >= args.reset_after:
                reset(c)
            elif args.freeze_after_up and c.up >= args.freeze_after_up:
                freeze(c)
        else:
            c.down += len(data)
            if args.freeze_after and c.down >= args.freeze_after:
                freeze(c)
