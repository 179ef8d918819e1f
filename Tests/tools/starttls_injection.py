#!/usr/bin/env python3
"""STARTTLS command injection (CVE-2011-0411 style): sends `STARTTLS` and a command in one packet, then
starts TLS and says EHLO. Prints the first reply read inside TLS: it must answer the EHLO, never the
command that was pipelined in clear text. usage: starttls_injection.py PORT"""
import socket, ssl, sys

port = int(sys.argv[1])
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
f = raw.makefile("rb")


def reply(reader):
    lines = []
    while True:
        line = reader.readline().decode()
        lines.append(line.rstrip("\r\n"))
        if len(line) < 4 or line[3] != "-":
            return lines


reply(f)
raw.sendall(b"EHLO inject.test\r\n")
reply(f)
raw.sendall(b"STARTTLS\r\nBOGUS-INJECTED\r\n")
print("starttls:", reply(f)[0])
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
tls = context.wrap_socket(raw, server_hostname="localhost")
tls.sendall(b"EHLO inject.test\r\n")
print("first inside tls:", reply(tls.makefile("rb"))[0])
