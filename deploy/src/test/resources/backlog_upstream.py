#!/usr/bin/python3
"""The upstream of the container suite's deferred backlog (ContainerBacklog).

While MAIL_DIR/defer exists, every RCPT gets 451 4.3.0: the relay defers the message with
backoff and keeps it queued. Once the test removes that file, every message is accepted and
each of its recipients is appended as one line to MAIL_DIR/recipients.log. No bodies are
kept: the test counts recipients, and 100,000 bodies would only fill the container's disk.

Usage: backlog_upstream.py MAIL_DIR PORT
"""
import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP

MAIL_DIR = sys.argv[1]
PORT = int(sys.argv[2])


class Backlog:
    def __init__(self, directory):
        self.flag = os.path.join(directory, "defer")
        self.log = open(os.path.join(directory, "recipients.log"), "a", buffering=1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if os.path.exists(self.flag):
            return "451 4.3.0 <%s>: the backlog's upstream defers; try again later" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            self.log.write(rcpt + "\n")
        return "250 2.0.0 Ok: kept"


async def main():
    backlog = Backlog(MAIL_DIR)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(backlog, hostname="backlog.test", data_size_limit=0),
                                      host="0.0.0.0", port=PORT)
    print("backlog upstream: listening on port %d, deferring while %s exists" % (PORT, backlog.flag), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
