import CGPGME

/// The GPGME library as linked into this process. Encryption itself comes with the OpenPGP issue.
public enum GPGME {
    /// GPGME's version, after the one-time initialisation every GPGME program must do first.
    public static let version: String? = gpgme_check_version(nil).map { String(cString: $0) }
}
