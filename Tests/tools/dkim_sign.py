#!/usr/bin/env python3
"""Signs a message with dkimpy, an independent DKIM signer, and writes the signed message to OUTPUT_FILE.
usage: dkim_sign.py MESSAGE_FILE OUTPUT_FILE DOMAIN SELECTOR KEY_PEM ALGORITHM CANONICALIZATION [length]
ALGORITHM is rsa-sha256 or ed25519-sha256; KEY_PEM a PKCS #8 (or PKCS #1) key made by openssl;
CANONICALIZATION like relaxed/simple; "length" adds l= with the body length."""
import base64
import sys
import dkim

path, output, domain, selector, key_path, algorithm, canonicalization = sys.argv[1:8]
length = len(sys.argv) > 8 and sys.argv[8] == "length"
message = open(path, "rb").read()
key = open(key_path, "rb").read()
if algorithm == "ed25519-sha256":
    # dkimpy takes the 32-octet seed in base64: the end of the PKCS #8 DER.
    der = base64.b64decode(b"".join(line for line in key.splitlines() if not line.startswith(b"-----")))
    key = base64.b64encode(der[-32:])
header, body = canonicalization.encode().split(b"/")
field = dkim.sign(message, selector.encode(), domain.encode(), key, canonicalize=(header, body),
                  signature_algorithm=algorithm.encode(), length=length,
                  include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
open(output, "wb").write(field + message)
