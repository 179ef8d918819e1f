#!/usr/bin/env python3
"""Sends N messages to an SMTP server over T parallel sessions (smtplib) and records, one per line in
OUT, the token of every message that got 250 after DATA. A message whose connection broke is sent again
(a new message as far as the server knows) until it gets a reply; one refused is not recorded. usage: burst.py HOST PORT RCPT N T OUT"""
import smtplib, sys, threading, time

host, port, rcpt, n, t, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
lock = threading.Lock()
accepted = open(out, "a", buffering=1)
next_index = [0]


def take():
    with lock:
        if next_index[0] >= n:
            return None
        next_index[0] += 1
        return next_index[0]


def worker():
    conn = None
    while True:
        i = take()
        if i is None:
            break
        token = "burst-%06d" % i
        body = ("From: bob@sender.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@sender.test>\r\n\r\n%s\r\n"
                % (rcpt, token, token, "x" * 200))
        for attempt in range(150):  # a node being restarted is retried for up to ~30 s
            try:
                if conn is None:
                    conn = smtplib.SMTP(host, port, timeout=30)
                    conn.ehlo("burst.test")
                conn.sendmail("bob@sender.test", [rcpt], body)
                with lock:
                    accepted.write(token + "\n")
                break
            except Exception:
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(0.2)
    if conn is not None:
        try:
            conn.quit()
        except Exception:
            pass


threads = [threading.Thread(target=worker) for _ in range(t)]
for th in threads:
    th.start()
for th in threads:
    th.join()
