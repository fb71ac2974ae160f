#!/usr/bin/python3
"""A test upstream (smart host) for the compose demo and the deploy suite.

Accepts every message on port 25, keeps it as N.eml in the mail directory, and appends one
line per message to received.log in that directory:

    <epoch seconds> <X-Test-Tag or -> <Message-ID or -> <client address>

Usage: upstream.py [MAIL_DIR] [PORT]     (defaults /var/mail/upstream 25)
"""
import asyncio
import time
import os
import sys

from aiosmtpd.smtp import SMTP

MAIL_DIR = sys.argv[1] if len(sys.argv) > 1 else "/var/mail/upstream"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 25


def header(content: bytes, name: bytes) -> str:
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    prefix = name.lower() + b":"
    for line in head.splitlines():
        if line.lower().startswith(prefix):
            return line[len(prefix):].strip().decode("ascii", "replace").replace(" ", "_") or "-"
    return "-"


class Keep:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        os.makedirs(directory, exist_ok=True)
        self.log = open(os.path.join(directory, "received.log"), "a", buffering=1)

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        with open(os.path.join(self.directory, "%d.eml" % self.count), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        content = envelope.original_content or envelope.content
        self.log.write("%.3f %s %s %s\n" % (time.time(), header(content, b"X-Test-Tag"),
                                            header(content, b"Message-ID"), session.peer[0]))
        return "250 2.0.0 Ok: kept as %d" % self.count


async def main():
    keep = Keep(MAIL_DIR)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(keep, hostname="upstream.test", enable_SMTPUTF8=True,
                                                   data_size_limit=0), host="0.0.0.0", port=PORT)
    print("upstream: listening on port %d, mail in %s" % (PORT, MAIL_DIR), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
