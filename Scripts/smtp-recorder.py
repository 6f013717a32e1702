#!/usr/bin/env python3
"""A loopback SMTP server for the email tests (aiosmtpd, from PyPI): every message it receives is
written to DIR as N.eml (the bytes as received) beside N.json (the envelope: sender, recipients).
It prints its port on stdout once it listens, and runs until it is stopped."""
import json
import os
import socket
import sys
import threading
import time

from aiosmtpd.controller import Controller

DIR = sys.argv[1]
lock = threading.Lock()
count = 0


class Handler:
    async def handle_DATA(self, server, session, envelope):
        global count
        with lock:
            count += 1
            base = os.path.join(DIR, str(count))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted for delivery"


# A free port: bound once by the kernel's choice, then handed to aiosmtpd.
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
