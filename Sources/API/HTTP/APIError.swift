import Hummingbird

/// An error answered as addy.io answers it: a status and a JSON body with a `message`
/// (and, for validation, `errors` by field).
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var fieldErrors: [(String, [String])]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, fieldErrors: [(String, [String])] = [],
                headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.fieldErrors = fieldErrors
        self.headers = headers
    }

    public static let unauthenticated = APIError(.unauthorized, "Unauthenticated.")
    public static let notFound = APIError(.notFound, "Not found.")
    public static let malformedJSON = APIError(.badRequest, "The request body is not valid JSON (UTF-8).")

    /// 422 with Laravel's summary line: the first problem, and how many more there are.
    public static func validation(_ errors: [(String, [String])]) -> APIError {
        let first = errors.first?.1.first ?? "The given data was invalid."
        let more = errors.reduce(0) { $0 + $1.1.count } - 1
        let message = more > 0 ? "\(first) (and \(more) more error\(more == 1 ? "" : "s"))" : first
        return APIError(.unprocessableContent, message, fieldErrors: errors)
    }

    var body: JSONValue {
        var members: [(String, JSONValue)] = [("message", .string(message))]
        if !fieldErrors.isEmpty {
            members.append(("errors", .object(fieldErrors.map { ($0.0, .array($0.1.map(JSONValue.string))) })))
        }
        return .object(members)
    }
}

extension APIError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body.serialized)))
    }
}

/// A JSON response with a status. Answers are per user and change: no cache may keep them.
func jsonResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    Response(
        status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
        body: .init(byteBuffer: ByteBuffer(bytes: value.serialized)))
}

/// `{"data": …}`, addy.io's envelope for one resource.
func dataResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    jsonResponse(.object([("data", value)]), status: status)
}

func noContent() -> Response { Response(status: .noContent, headers: [.cacheControl: "no-store"]) }
