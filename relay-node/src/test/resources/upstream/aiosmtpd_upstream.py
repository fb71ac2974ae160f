"""A scriptable SMTP upstream for the relay's delivery tests (run by AiosmtpdUpstream).

Modes are flags: --tls-cert/--tls-key make STARTTLS required, --auth USER:PASS makes AUTH
(PLAIN, LOGIN) required, --tempfail N answers 451 to the first N RCPTs of each recipient,
--reject REGEX answers 550 5.1.1 to matching recipients, --throttle N answers SES's
454 4.7.0 Throttling failure to the first N MAIL FROM commands (counted over all connections). Every accepted message and every
new connection is appended to the --record JSONL file (with its time, "at", in epoch
seconds), which the Java side reads back.
"""
import argparse
import os
import hashlib
import base64
import json
import re
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

lock = threading.Lock()


def record(path, entry):
    with lock, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()


class Upstream:
    def __init__(self, args):
        self.args = args
        self.attempts = {}
        self.throttled = 0
        self.peers = set()
        self.reject = re.compile(args.reject) if args.reject else None

    def seen(self, session):
        if session.peer not in self.peers:
            self.peers.add(session.peer)
            record(self.args.record, {"event": "connect", "peer": list(session.peer)[:2], "at": time.time()})

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.seen(session)
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self.seen(session)
        session.host_name = hostname
        return "250 {}".format(server.hostname)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with lock:
            throttle = self.throttled < self.args.throttle
            if throttle:
                self.throttled += 1
        if throttle:
            record(self.args.record, {"event": "throttled", "at": time.time()})
            return "454 4.7.0 Throttling failure: Maximum sending rate exceeded."
        # With a MAIL hook, aiosmtpd leaves the envelope to the handler.
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.hold_file and os.path.exists(self.args.hold_file):
            # "down" while the file exists, but listening: a port held from the start cannot be
            # taken by another process meanwhile
            return "451 4.3.0 <{}>: upstream on hold, try again later".format(address)
        if self.reject and self.reject.search(address):
            return "550 5.1.1 <{}>: Recipient address rejected: no such user".format(address)
        n = self.attempts.get(address, 0)
        self.attempts[address] = n + 1
        if n < self.args.tempfail:
            return "451 4.3.0 <{}>: try again later".format(address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        qid = "UP{:010d}".format(int(time.time() * 1000) % 10**10)
        record(self.args.record, {
            "event": "message",
            # arrival (end of DATA) in epoch seconds, for the rate-limit tests
            "at": time.time(),
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            # with --digest-only the content is summed, not kept (tests of 40 MB messages)
            "content_b64": "" if self.args.digest_only else base64.b64encode(content).decode("ascii"),
            "sha256": hashlib.sha256(content).hexdigest(),
            # the body alone (after the first empty line): what a client sent, whatever headers relays added
            "body_sha256": hashlib.sha256(content.split(b"\r\n\r\n", 1)[-1]).hexdigest(),
            "size": len(content),
            "tls": session.ssl is not None,
            "auth": session.auth_data if isinstance(session.auth_data, str) else None,
        })
        return "250 2.0.0 Ok: queued as " + qid


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--auth")
    p.add_argument("--tls-optional", action="store_true")
    p.add_argument("--tls-max-1-1", action="store_true")
    p.add_argument("--auth-exclude", action="append", default=[])
    p.add_argument("--tempfail", type=int, default=0)
    p.add_argument("--reject")
    p.add_argument("--throttle", type=int, default=0)
    p.add_argument("--digest-only", action="store_true")
    p.add_argument("--hold-file")
    p.add_argument("--data-size-limit", type=int, default=0)
    args = p.parse_args()

    kwargs = {}
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_max_1_1:
            # No protocol the relay accepts (TLS 1.2+): every STARTTLS handshake fails.
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        kwargs.update(tls_context=ctx, require_starttls=not args.tls_optional)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=bool(args.tls_cert),
                      auth_exclude_mechanism=args.auth_exclude)
    if args.data_size_limit:
        kwargs.update(data_size_limit=args.data_size_limit)
    controller = Controller(Upstream(args), hostname=args.host, port=args.port,
                            server_hostname="upstream.test", ready_timeout=10, **kwargs)
    controller.start()
    print("READY", flush=True)
    try:
        # Runs until the test kills it; stdin closing (the JVM died) also ends it.
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
