/// What the directory refuses, in words an operator or API client can act on.
public enum DirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidUsername(String)
    case usernameTaken(String)
    case unknownUser(String)
    case unknownToken(String)
    case invalidLabel

    public var description: String {
        switch self {
        case .invalidUsername(let name):
            "'\(name)' is not a valid username (1 to 20 letters and digits)"
        case .usernameTaken(let name): "the username '\(name)' is already taken"
        case .unknownUser(let name): "no user named '\(name)'"
        case .unknownToken(let id): "no API token with id '\(id)'"
        case .invalidLabel: "a token label must be 1 to 255 characters"
        }
    }
}
