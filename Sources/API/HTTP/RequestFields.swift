import Hummingbird

/// The fields of a JSON request body, read one by one with addy.io's (Laravel's) validation rules.
/// Problems are collected per field; `validate()` throws them all as one 422.
struct RequestFields {
    private let members: [String: JSONValue]
    private(set) var errors: [(String, [String])] = []

    init(_ members: [String: JSONValue]) { self.members = members }

    /// Reads the body as a JSON object. An empty body is an empty object; anything else that is not a
    /// JSON object (or not UTF-8) is a 400.
    static func read(_ request: Request, context: APIRequestContext) async throws -> RequestFields {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: context.maxUploadSize)
        } catch {
            throw APIError(.contentTooLarge, "The request body is too large.")
        }
        let bytes = Array(buffer.readableBytesView)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return RequestFields([:]) }
        guard case .object(let pairs) = JSONValue.parse(bytes) else { throw APIError.malformedJSON }
        return RequestFields(Dictionary(pairs, uniquingKeysWith: { a, _ in a }))
    }

    func has(_ key: String) -> Bool { members[key] != nil }

    /// For routes that read few fields or none: every other field given is an error, so a client
    /// that thinks it changed something learns it did not.
    mutating func refuseOthers(than accepted: Set<String> = []) {
        for key in members.keys.sorted() where !accepted.contains(key) { fail(key, "The \(label(key)) field is not accepted here.") }
    }

    mutating func fail(_ key: String, _ message: String) {
        if let index = errors.firstIndex(where: { $0.0 == key }) { errors[index].1.append(message) }
        else { errors.append((key, [message])) }
    }

    /// A string field. Absent or null is nil (or an error when required).
    mutating func string(_ key: String, required: Bool = false, maxLength: Int? = nil) -> String? {
        switch members[key] {
        case nil, .null?:
            if required { fail(key, "The \(label(key)) field is required.") }
            return nil
        case .string(let s)?:
            if required && s.trimmingCharacters(in: .whitespaces).isEmpty {
                fail(key, "The \(label(key)) field is required.")
                return nil
            }
            if let maxLength, s.count > maxLength {
                fail(key, "The \(label(key)) field must not be greater than \(maxLength) characters.")
                return nil
            }
            return s
        default:
            fail(key, "The \(label(key)) field must be a string.")
            return nil
        }
    }

    /// An optional text field of a PATCH: nil when the body leaves it out (keep it as it is),
    /// `.some(nil)` when it is null (clear it), `.some(text)` otherwise.
    mutating func optionalText(_ key: String, maxLength: Int) -> String?? {
        has(key) ? .some(string(key, maxLength: maxLength)) : nil
    }

    /// A string that must be one of a fixed set.
    mutating func choice(_ key: String, _ allowed: [String], required: Bool = false) -> String? {
        guard let value = string(key, required: required) else { return nil }
        guard allowed.contains(value) else {
            fail(key, "The selected \(label(key)) is invalid.")
            return nil
        }
        return value
    }

    /// A list of id strings, at most `maxCount`.
    mutating func ids(_ key: String, required: Bool = false, maxCount: Int = 10) -> [String]? {
        switch members[key] {
        case nil, .null?:
            if required { fail(key, "The \(label(key)) field is required.") }
            return nil
        case .array(let items)?:
            guard items.count <= maxCount else {
                fail(key, "The \(label(key)) field must not have more than \(maxCount) items.")
                return nil
            }
            var ids: [String] = []
            for item in items {
                guard case .string(let id) = item, id.utf8.count <= 64 else {
                    fail(key, "The \(label(key)) field must be a list of ids.")
                    return nil
                }
                ids.append(id)
            }
            return ids
        default:
            fail(key, "The \(label(key)) field must be an array.")
            return nil
        }
    }

    /// A boolean field (JSON true/false, or 0/1 as Laravel accepts).
    mutating func bool(_ key: String, required: Bool = false) -> Bool? {
        switch members[key] {
        case nil, .null?:
            if required { fail(key, "The \(label(key)) field is required.") }
            return nil
        case .bool(let b)?: return b
        case .int(let i)? where i == 0 || i == 1: return i == 1
        default:
            fail(key, "The \(label(key)) field must be true or false.")
            return nil
        }
    }

    /// The `id` of a `POST /X {"id"}` toggle.
    mutating func id(_ key: String = "id") -> String? {
        guard let id = string(key, required: true, maxLength: 64) else { return nil }
        return id
    }

    func validate() throws {
        if !errors.isEmpty { throw APIError.validation(errors) }
    }

    private func label(_ key: String) -> String { key.replacingOccurrences(of: "_", with: " ") }
}
