#!/usr/bin/env python3
"""A sending MTA's view of two MX hosts: a steady stream of messages, each tried at MX 10 and, when that
host refuses the connection or answers 4xx (421 while draining, for one), at MX 20 — and tried again
later when both refuse, as a real MTA would (never dropped).

usage: mx_stream.py PORT_MX10 PORT_MX20 COUNT RATE OUT_JSON [TO]
Writes to OUT_JSON: {"accepted": {token: port}, "gave_up": [tokens]} where token is in each Subject.
"""
import json, smtplib, sys, time

mx10, mx20, count, rate, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
to = sys.argv[6] if len(sys.argv) > 6 else "shop@relay.test"
accepted, gave_up = {}, []


def attempt(port, token):
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo("client.test")
            body = "From: bob@sender.test\r\nTo: %s\r\nSubject: stream %s\r\n\r\nmessage %s\r\n" % (to, token, token)
            refused = smtp.sendmail("bob@sender.test", [to], body)
            return not refused
    except (OSError, smtplib.SMTPException):
        return False


start = time.time()
for n in range(count):
    token = "t%05d" % n
    wait = start + n / rate - time.time()
    if wait > 0:
        time.sleep(wait)
    for tries in range(60):
        port = next((p for p in (mx10, mx20) if attempt(p, token)), None)
        if port:
            accepted[token] = port
            break
        time.sleep(0.5)
    else:
        gave_up.append(token)

json.dump({"accepted": accepted, "gave_up": gave_up}, open(out, "w"))
