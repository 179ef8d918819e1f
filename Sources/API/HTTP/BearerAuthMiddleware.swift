import Directory
import HTTPTypes
import Hummingbird
import Logging

/// Checks `Authorization: Bearer TOKEN` against the stored token hashes, and applies the per-token
/// request limit. No token, an unknown one or an expired one: 401; over the limit: 429 with Retry-After.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let tokens: APITokens
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let header = request.headers[.authorization], header.count > 7,
            header.prefix(7).lowercased() == "bearer "
        else { throw APIError.unauthenticated }
        let presented = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard !presented.isEmpty, presented.utf8.count <= 256,
            let token = try await tokens.authenticate(presented)
        else { throw APIError.unauthenticated }
        if let wait = limiter.admit(token.id) {
            throw APIError(
                .tooManyRequests, "Too Many Attempts.",
                headers: [.retryAfter: String(wait), HTTPField.Name("X-RateLimit-Remaining")!: "0"])
        }
        var context = context
        context.token = token
        return try await next(request, context)
    }
}
