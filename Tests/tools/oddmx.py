#!/usr/bin/env python3
"""Mail servers that misbehave at the connection level, for Postern's next-hop tests.

usage: oddmx.py HOST PORT MODE DIR
  greet554  greets with 554 5.7.1 and waits for QUIT
  ehlo550   greets with 220, refuses EHLO and HELO with 550
  badtls    offers STARTTLS, says 220 to it and then sends clear-text garbage instead of a TLS
            handshake; a client that does not ask for TLS gets a plain, working SMTP server that
            writes each message to DIR/NNNNNN.eml
  stray     that plain server without STARTTLS, which after each 250 to a message also sends an
            unasked 421 and leaves the connection open
"""
import os, socket, sys, threading

host, port, mode, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.makedirs(folder, exist_ok=True)
count = [0]
lock = threading.Lock()


def serve(conn):
    f = conn.makefile("rb")
    say = lambda text: conn.sendall(text.encode() + b"\r\n")
    if mode == "greet554":
        say("554 5.7.1 no service for you")
    else:
        say("220 oddmx ESMTP")
    while True:
        line = f.readline()
        if not line:
            return
        verb = line.strip().upper()
        if verb.startswith(b"QUIT"):
            say("221 bye")
            return
        if mode == "greet554":
            say("503 5.5.1 no")
        elif mode == "ehlo550" and (verb.startswith(b"EHLO") or verb.startswith(b"HELO")):
            say("550 5.7.1 not you")
        elif verb.startswith(b"EHLO"):
            say("250-oddmx\r\n250-8BITMIME\r\n250 STARTTLS" if mode == "badtls" else "250-oddmx\r\n250 8BITMIME")
        elif verb.startswith(b"STARTTLS"):
            say("220 2.0.0 go ahead")
            conn.sendall(b"this is not a TLS handshake\r\n")
            return
        elif verb.startswith(b"DATA"):
            say("354 go")
            data = b""
            while True:
                chunk = f.readline()
                if not chunk or chunk == b".\r\n":
                    break
                data += chunk
            with lock:
                count[0] += 1
                name = os.path.join(folder, "%06d" % count[0])
            with open(name + ".tmp", "wb") as out:
                out.write(data)
            os.rename(name + ".tmp", name + ".eml")
            say("250 2.0.0 stored")
            if mode == "stray":
                say("421 4.4.2 unasked")
        else:
            say("250 2.0.0 ok")


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, port))
listener.listen(16)
print("ready", flush=True)
while True:
    conn, _ = listener.accept()
    def run(c=conn):
        try:
            serve(c)
        except OSError:
            pass
        finally:
            c.close()
    threading.Thread(target=run, daemon=True).start()
