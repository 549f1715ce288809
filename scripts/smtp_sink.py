#!/usr/bin/env python3
"""An SMTP server on loopback that records what it receives, for tests.

    smtp_sink.py --port 0 --out mail.jsonl [--fail-first N]

Prints `listening <port>` once it accepts connections, then appends one JSON line per
message to --out: mail_from, rcpt_tos, data (the raw message), message_id, subject and body
(decoded). --fail-first N answers the first N DATA commands with a 451 so that a sender's
retry can be tested. Runs until SIGTERM/SIGINT or until stdin closes.

Needs aiosmtpd: scripts/install-test-deps puts it in .venv-test.
"""

import argparse
import json
import signal
import socket
import sys
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, fail_first):
        self.out = out
        self.fail_left = fail_first
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                return "451 4.3.0 try again later"
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        msg = message_from_bytes(raw, policy=policy.default)
        part = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": raw.decode("utf-8", errors="replace"),
            "message_id": str(msg.get("Message-ID", "")),
            "subject": str(msg.get("Subject", "")),
            "body": part.get_content() if part is not None else "",
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self.lock:
            with open(self.out, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
        return "250 2.0.0 OK"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(handler, port):
    # aiosmtpd's Controller cannot bind port 0 (it connects to its own port to check it is
    # up), so a free port is picked first; another process may take it in between: retry.
    tries = 5 if port == 0 else 1
    for attempt in range(tries):
        p = free_port() if port == 0 else port
        controller = Controller(handler, hostname="127.0.0.1", port=p)
        try:
            controller.start()
            return controller, p
        except Exception:
            if attempt + 1 == tries:
                raise
    raise RuntimeError("unreachable")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    ap.add_argument("--out", required=True, help="file to append JSON lines to")
    ap.add_argument("--fail-first", type=int, default=0, help="answer the first N DATA commands with 451")
    args = ap.parse_args()

    controller, port = start(Sink(args.out, args.fail_first), args.port)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening {port}", flush=True)
    try:
        # Returns when stdin closes: the parent went away.
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
