# A relayhost stand-in that insists on STARTTLS (aiosmtpd): accepts every message only after
# the client switched to TLS, so a Postfix that delivers to it proves it spoke TLS.
# Usage: starttls_sink.py PORT CERT_PEM KEY_PEM; prints "ready" once it listens, runs until killed.
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


class Accept:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: accepted over TLS"


port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(Accept(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
controller.start()
print("ready", flush=True)
threading.Event().wait()
