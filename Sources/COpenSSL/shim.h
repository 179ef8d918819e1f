#ifndef POSTERN_COPENSSL_SHIM_H
#define POSTERN_COPENSSL_SHIM_H
// The system's libcrypto, for RSA signing only (DKIM): on CPUs with AVX-512 IFMA its 2048-bit
// private-key operation takes about half the time of the BoringSSL copy inside swift-crypto.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#endif
