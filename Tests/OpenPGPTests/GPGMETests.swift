import OpenPGP
import Testing

@Suite struct GPGMETests {
    @Test func libraryIsLinkedAndInitialises() throws {
        let version = try #require(GPGME.version)
        let major = Int(version.split(separator: ".").first ?? "") ?? 0
        #expect(major >= 1, "GPGME reported version \(version)")
    }
}
