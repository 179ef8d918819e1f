#!/usr/bin/env python3
"""Opens an OpenPGP-encrypted message as a mail client would: parses it with Python's email package,
decrypts the PGP/MIME part (or an inline armoured body) with the gpg command-line tool and the
secret keys of GNUPGHOME, parses what comes out, and prints a JSON summary.

usage: pgp_open.py MESSAGE_FILE GNUPGHOME
"""
import email
import email.policy
import hashlib
import json
import subprocess
import sys


def decrypt(armored, home):
    run = subprocess.run(["gpg", "--homedir", home, "--batch", "--decrypt"], input=armored,
                         capture_output=True)
    if run.returncode != 0:
        raise SystemExit("gpg --decrypt failed: " + run.stderr.decode(errors="replace"))
    return run.stdout


def summary(entity):
    parts = []
    for part in entity.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        parts.append({
            "type": part.get_content_type(),
            "filename": part.get_filename(),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "text": payload.decode(part.get_content_charset() or "utf-8", errors="replace")
            if part.get_content_maintype() == "text" else None,
        })
    return parts


def main():
    raw = open(sys.argv[1], "rb").read()
    home = sys.argv[2]
    outer = email.message_from_bytes(raw, policy=email.policy.compat32)
    result = {
        "outer_subject": outer.get("Subject"),
        "outer_type": outer.get_content_type(),
        "outer_protocol": outer.get_param("protocol"),
    }
    if outer.get_content_type() == "multipart/encrypted":
        parts = outer.get_payload()
        result["version_part"] = parts[0].get_content_type()
        result["version_text"] = parts[0].get_payload().strip()
        plain = decrypt(parts[1].get_payload(decode=True), home)
        inner = email.message_from_bytes(plain, policy=email.policy.compat32)
        result["inner_type"] = inner.get_content_type()
        result["protected_headers"] = inner.get_param("protected-headers")
        for name in ["Subject", "From", "To", "Cc", "Date"]:
            result["inner_" + name.lower()] = inner.get(name)
        result["parts"] = summary(inner)
        result["crlf"] = b"\n" not in plain.replace(b"\r\n", b"")
    else:
        body = outer.get_payload(decode=True) or b""
        result["inline"] = body.startswith(b"-----BEGIN PGP MESSAGE-----")
        result["text"] = decrypt(body, home).decode("utf-8", errors="replace") if result["inline"] else body.decode(errors="replace")
    print(json.dumps(result))


main()
