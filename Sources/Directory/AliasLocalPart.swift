/// The formats of a new alias's local part, and the rules for one a user chooses.
public enum AliasFormat: String, Sendable, CaseIterable {
    case randomCharacters = "random_characters"
    case uuid
    case randomWords = "random_words"
    case custom
}

public enum AliasLocalPart {
    static let characters = Array("0123456789abcdefghijklmnopqrstuvwxyz")

    /// Eight characters of [0-9a-z]: about 2.8e12 possibilities.
    public static func randomCharacters<G: RandomNumberGenerator>(using generator: inout G) -> String {
        String((0..<8).map { _ in characters.randomElement(using: &generator)! })
    }

    /// Two words and a number from 0 to 999, like `quiet.harbor274` (addy.io's shape): about 26 million
    /// possibilities, so a clash is possible and the caller draws again on a duplicate.
    public static func randomWords<G: RandomNumberGenerator>(using generator: inout G) -> String {
        let first = AliasWords.list.randomElement(using: &generator)!
        let second = AliasWords.list.randomElement(using: &generator)!
        return "\(first).\(second)\(Int.random(in: 0...999, using: &generator))"
    }

    /// Names no user may take on a shared domain: they belong to the relay's operators (RFC 2142).
    public static let reserved: Set<String> = [
        "postmaster", "abuse", "hostmaster", "webmaster", "mailer-daemon", "root", "admin", "administrator",
        "noc", "security", "support", "info", "noreply", "no-reply", "list-unsubscribe", "postern",
    ]

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case empty, tooLong, notDotAtom, plusSign, reserved

        public var description: String {
            switch self {
            case .empty: "The local part field is required."
            case .tooLong: "The local part field must not be greater than 64 characters."
            case .notDotAtom: "The local part may only hold letters, digits and !#$%&'*-/=?^_`{|}~, with single dots between them."
            case .plusSign: "The local part may not contain a + (it starts a reverse alias)."
            case .reserved: "The local part is reserved."
            }
        }
    }

    /// Checks a custom local part: an RFC 5321 dot-atom of ASCII, at most 64 octets, no `+`, not reserved.
    /// Returns it in lower case (aliases match without regard to case).
    public static func validatedCustom(_ text: String) throws(Problem) -> String {
        guard !text.isEmpty else { throw .empty }
        guard text.utf8.count <= 64 else { throw .tooLong }
        guard !text.contains("+") else { throw .plusSign }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*-/=?^_`{|}~")
        let atoms = text.split(separator: ".", omittingEmptySubsequences: false)
        guard atoms.allSatisfy({ !$0.isEmpty && $0.allSatisfy(allowed.contains) }) else { throw .notDotAtom }
        let lower = text.lowercased()
        guard !reserved.contains(lower) else { throw .reserved }
        return lower
    }
}

/// Short, common, inoffensive English words for `random_words` aliases (our own list).
enum AliasWords {
    static let list: [String] = """
        acorn amber anchor apple april arrow aspen atlas autumn badge bagel bamboo banjo barley basil beacon \
        berry birch bison blossom bluff bonnet boulder bramble breeze brick brook bubble cabin cactus camel \
        candle canoe canyon carrot castle cedar cello chalk cherry chess cider cinder citrus clover cobalt \
        comet copper coral cotton cradle crane crater cricket crystal cypress daisy delta denim desert dew \
        dolphin domino dove dragon dune eagle echo ember emerald falcon fern fiddle field fig finch fjord \
        flame flint forest fossil fox garden garnet gecko geyser ginger glacier globe gravel grove harbor \
        harvest hazel heron hickory honey horizon iris island ivory jade jasmine jelly juniper kayak kettle \
        kiwi lagoon lantern larch lava lemon lilac linen lotus lunar maple marble meadow melon mesa mint \
        mist molar moss nectar nickel nutmeg oak oasis ocean olive onyx opal orbit orchid otter owl paddle \
        panda pebble pepper piano pine plum polar pond poppy prairie prism pumpkin quartz quill rain raven \
        reef ridge river robin rocket rose ruby saddle saffron sage salmon sand sapphire scarlet shell sierra \
        silver sky slate sparrow spruce squid star stone summit sun swan tango thistle thunder tide tiger \
        timber topaz tulip tundra turtle umber valley velvet violet walnut willow winter wren yarrow zephyr
        """.split(separator: " ").map(String.init)
}
