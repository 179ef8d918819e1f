import Directory
import Hummingbird

/// Per-request state: who the bearer token belongs to, once `BearerAuthMiddleware` has checked it.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var token: APIToken?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// Request bodies are small JSON documents; a public key is the largest (64 KiB is plenty).
    public var maxUploadSize: Int { 256 * 1024 }

    /// The authenticated token; routes behind the auth middleware always have one.
    func requireToken() throws -> APIToken {
        guard let token else { throw APIError.unauthenticated }
        return token
    }

    var userID: String { get throws { try requireToken().userID } }
}
