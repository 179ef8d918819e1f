#!/usr/bin/env python3
"""Verifies the DKIM signature of a message with dkimpy, an independent implementation, given the TXT
record its selector would publish. usage: dkim_verify.py MESSAGE_FILE TXT_RECORD. Prints pass or fail."""
import sys
import dkim

message = open(sys.argv[1], "rb").read()
record = sys.argv[2].encode()


def dns(name, timeout=5):
    return record


print("pass" if dkim.verify(message, dnsfunc=dns) else "fail")
