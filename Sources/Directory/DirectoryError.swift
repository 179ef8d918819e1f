/// What the directory refuses, in words an operator or API client can act on.
public enum DirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidUsername(String)
    case usernameTaken(String)
    case reservedUsername(String)
    case unknownUser(String)
    case unknownToken(String)
    case invalidLabel
    /// No such record for this user (another user's record is "no such record" too).
    case notFound
    /// A record with this unique value exists already.
    case duplicate(String, String)
    /// The account's default recipient cannot be deleted.
    case defaultRecipient
    /// The account's default username cannot be deleted.
    case defaultUsername
    /// A recipient id that is not one of the user's verified recipients.
    case unknownRecipient(String)

    public var description: String {
        switch self {
        case .invalidUsername(let name):
            "'\(name)' is not a valid username (1 to 20 letters and digits)"
        case .usernameTaken(let name): "the username '\(name)' is already taken"
        case .reservedUsername(let name): "the username '\(name)' is reserved"
        case .unknownUser(let name): "no user named '\(name)'"
        case .unknownToken(let id): "no API token with id '\(id)'"
        case .invalidLabel: "a token label must be 1 to 255 characters"
        case .notFound: "not found"
        case .duplicate(let kind, let value): "the \(kind) \(value) already exists"
        case .defaultRecipient: "the default recipient cannot be deleted"
        case .defaultUsername: "the default username cannot be deleted"
        case .unknownRecipient(let id): "no verified recipient with id '\(id)'"
        }
    }
}
