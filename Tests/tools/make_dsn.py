#!/usr/bin/env python3
"""Writes a delivery status notification (RFC 3464 in RFC 6522 multipart/report) for a message that
could not be delivered, laid out as Postfix's bounce daemon writes them.

usage: make_dsn.py RETURNED_EML BOUNCE_ADDRESS FAILED_RECIPIENT STATUS DIAGNOSTIC OUT
"""
import sys
from email.utils import formatdate, make_msgid

returned_path, bounce_to, failed, status, diagnostic, out = sys.argv[1:7]
original = open(returned_path, "rb").read()
header_part = original.split(b"\r\n\r\n", 1)[0] + b"\r\n"

boundary = "DSN." + make_msgid().strip("<>").replace("@", ".")
lines = [
    "From: MAILER-DAEMON@mx.dest.test (Mail Delivery System)",
    "To: " + bounce_to,
    "Subject: Undelivered Mail Returned to Sender",
    "Date: " + formatdate(),
    "Message-ID: " + make_msgid(domain="mx.dest.test"),
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status;',
    '\tboundary="' + boundary + '"',
    "",
    "This is a MIME-encapsulated message.",
    "",
    "--" + boundary,
    "Content-Description: Notification",
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "I'm sorry to have to inform you that your message could not",
    "be delivered to one or more recipients.",
    "",
    "--" + boundary,
    "Content-Description: Delivery report",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.dest.test",
    "X-Postfix-Queue-ID: 4ABCD1234",
    "Arrival-Date: " + formatdate(),
    "",
    "Final-Recipient: rfc822; " + failed,
    "Original-Recipient: rfc822;" + failed,
    "Action: failed",
    "Status: " + status,
    "Remote-MTA: dns; mailstore.dest.test",
    "Diagnostic-Code: smtp; " + diagnostic,
    "",
    "--" + boundary,
    "Content-Description: Undelivered Message Headers",
    "Content-Type: text/rfc822-headers",
    "",
]
data = "\r\n".join(lines).encode() + b"\r\n" + header_part + b"\r\n--" + boundary.encode() + b"--\r\n"
open(out, "wb").write(data)
