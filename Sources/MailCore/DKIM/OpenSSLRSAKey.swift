import COpenSSL

/// An RSA private key in the system's libcrypto, used to make DKIM's RSASSA-PKCS1-v1_5 signatures
/// (the same bytes swift-crypto makes: the scheme is deterministic). libcrypto uses AVX-512 IFMA for
/// 2048-bit keys where the CPU has it, about twice as fast as swift-crypto's BoringSSL there.
final class OpenSSLRSAKey: Sendable {
    // Why sharing it between threads is safe (the compiler cannot see it through the C pointer, so
    // only this property opts out of the check): `key` is set once in `init` and never changed or
    // freed before `deinit`; libcrypto allows one `EVP_PKEY` to be used by many threads at once as
    // long as each operation has its own `EVP_PKEY_CTX`, which `sign` makes and frees on every call.
    private nonisolated(unsafe) let key: OpaquePointer

    /// nil when libcrypto cannot read `pem` as an RSA private key.
    init?(pem: String) {
        let text = Array(pem.utf8)
        let parsed: OpaquePointer? = text.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            // A key with a pass phrase is refused, never asked for on a terminal.
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let parsed else {
            ERR_clear_error()
            return nil
        }
        guard EVP_PKEY_get_base_id(parsed) == EVP_PKEY_RSA else {
            EVP_PKEY_free(parsed)
            return nil
        }
        key = parsed
    }

    deinit { EVP_PKEY_free(key) }

    /// The PKCS #1 v1.5 signature of a SHA-256 digest; nil when libcrypto fails.
    func sign(sha256 digest: [UInt8]) -> [UInt8]? {
        // What failed leaves nothing on the thread's error queue for the next user of libcrypto
        // (libmariadb's TLS among them).
        guard digest.count == 32, let context = EVP_PKEY_CTX_new(key, nil) else {
            ERR_clear_error()
            return nil
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_sign_init(context) == 1, EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1,
              EVP_PKEY_CTX_set_signature_md(context, EVP_sha256()) == 1
        else {
            ERR_clear_error()
            return nil
        }
        var length = Int(EVP_PKEY_get_size(key))
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_sign(context, &signature, &length, digest, digest.count) == 1 else {
            ERR_clear_error()
            return nil
        }
        return Array(signature.prefix(length))
    }
}
