#!/usr/bin/env python3
"""A receiving SMTP server for Postern's delivery tests (aiosmtpd).

usage: sink.py PORT DIR [CERT KEY]
With CERT and KEY (PEM files) the sink offers STARTTLS, and records whether each message came over TLS.
Each message is written to DIR as NNNNNN.eml, with its envelope in NNNNNN.json. The answer to RCPT is
read from DIR/mode on every command, so a test can switch it while the sink runs:
  ok (default) | tempfail (451 4.3.0) | permfail (550 5.1.1) | permfail ADDRESS... (550 for those only)
  | hang (never answers RCPT: the client's timeout ends the session)
"""
import asyncio, json, os, ssl, sys, threading
from aiosmtpd.controller import Controller

port, folder = int(sys.argv[1]), sys.argv[2]
os.makedirs(folder, exist_ok=True)
lock = threading.Lock()
count = [0]


def mode():
    try:
        return open(os.path.join(folder, "mode")).read().strip()
    except FileNotFoundError:
        return "ok"


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        m = mode()
        if m == "hang":
            await asyncio.sleep(3600)
        if m == "tempfail":
            return "451 4.3.0 try again later"
        if m == "permfail" or (m.startswith("permfail ") and address in m.split()[1:]):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with lock:
            count[0] += 1
            name = os.path.join(folder, "%06d" % count[0])
        with open(name + ".json.tmp", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": session.ssl is not None}, f)
        with open(name + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".eml.tmp", name + ".eml")
        os.rename(name + ".json.tmp", name + ".json")
        return "250 2.0.0 stored"


tls = {}
if len(sys.argv) > 4:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    tls = {"tls_context": context, "require_starttls": False}
controller = Controller(Handler(), hostname="127.0.0.1", port=port, decode_data=False,
                        data_size_limit=50 * 1024 * 1024, enable_SMTPUTF8=True, **tls)
controller.start()
print("ready", flush=True)
try:
    threading.Event().wait()
except KeyboardInterrupt:
    pass
controller.stop()
