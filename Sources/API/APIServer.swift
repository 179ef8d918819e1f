import Directory
import Foundation
import HTTPTypes
import Hummingbird
import MailCore
import Logging
import MailAuth
import PosternConfig
import Storage

/// What the routes work with: the stores and the parts of the node's configuration the API needs.
struct APIServices: Sendable {
    let accounts: Accounts
    let aliases: Aliases
    let recipients: Recipients
    let usernames: Usernames
    let domains: CustomDomains
    let failedDeliveries: FailedDeliveries
    let tokens: APITokens
    let pool: ConnectionPool
    let rootDomain: String
    let sharedDomains: [String]
    /// `limits.bandwidth_per_month`: what account-details shows for users without a limit of their own.
    let defaultBandwidthLimit: Int
    /// Queues a failed delivery's kept message again; nil where no delivery queue runs.
    let resend: MessageResender?
    /// Sends mail Postern writes itself (verification links); nil where no delivery queue runs.
    let notify: NoticeSender?
    /// `notifications.from` and `api.public_url`, for that mail and its links.
    let notificationsFrom: EmailAddress?
    let publicURL: String
    /// The DNS checks of custom domains, and what they compare with: the relay's MX host names and
    /// the DKIM key mail is signed with (`dkim.keys_dir`, the domain's own key or the root domain's).
    let domainCheck: CustomDomainCheck
    let mxHosts: [String]
    let dkimSelector: String
    let dkimKeysDirectory: String
    let logger: Logger

    init(pool: ConnectionPool, config: NodeConfig, logger: Logger, resend: MessageResender? = nil, notify: NoticeSender? = nil,
         dns: (any MailAuthDNS)? = nil) {
        self.resend = resend
        self.notify = notify
        notificationsFrom = try? EmailAddress(parsing: config.notificationsFrom)
        publicURL = config.apiPublicURL.hasSuffix("/") ? String(config.apiPublicURL.dropLast()) : config.apiPublicURL
        self.pool = pool
        accounts = Accounts(pool: pool)
        aliases = Aliases(pool: pool)
        recipients = Recipients(pool: pool)
        usernames = Usernames(pool: pool)
        domains = CustomDomains(pool: pool)
        failedDeliveries = FailedDeliveries(pool: pool)
        tokens = APITokens(pool: pool)
        rootDomain = config.domains.root
        sharedDomains = config.domains.shared
        defaultBandwidthLimit = config.limits.bandwidthPerMonth
        domainCheck = CustomDomainCheck(dns: dns ?? CachingDNS(host: config.dnsResolver.host, port: Int(config.dnsResolver.port)), hostname: config.node.hostname)
        mxHosts = config.domains.mxHosts
        dkimSelector = config.dkim.selector
        dkimKeysDirectory = config.dkim.keysDirectory
        self.logger = logger
    }

    /// The DKIM key record mail from `domain` is signed with: its own key, else the root domain's.
    func dkimRecord(for domain: String) -> String? {
        for owner in [domain, rootDomain] {
            let path = "\(dkimKeysDirectory)/\(owner)/\(dkimSelector).pem"
            if let pem = try? String(contentsOfFile: path, encoding: .utf8), let key = try? DKIMKey(pem: pem) { return key.dnsRecord }
        }
        return nil
    }
}

/// Registers routes on the `/api/v1` group and remembers them as `METHOD /api/v1/path`, so a test can
/// hold the list against docs/openapi.yaml.
final class RouteBook {
    private let group: RouterGroup<APIRequestContext>
    private(set) var entries: [String] = []

    init(_ group: RouterGroup<APIRequestContext>) { self.group = group }

    func on(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, APIRequestContext) async throws -> Response
    ) {
        entries.append("\(method.rawValue) /api/v1/\(path)")
        group.on(RouterPath(path), method: method, use: handler)
    }

    /// addy.io's on/off endpoints: `POST /path {"id"}` turns a setting on and answers with the record,
    /// `DELETE /path/{id}` turns it off and answers 204. `set(on, id, userID)` returns the record's JSON.
    func toggle(_ path: String, _ set: @escaping @Sendable (Bool, String, String) async throws -> JSONValue) {
        on(.post, path) { request, context in
            var fields = try await RequestFields.read(request, context: context)
            let id = fields.id()
            try fields.validate()
            return dataResponse(try await set(true, id!, try context.userID))
        }
        on(.delete, path + "/{id}") { _, context in
            _ = try await set(false, try context.id(), try context.userID)
            return noContent()
        }
    }
}

/// What the node tells `/metrics` and `/health` (outside `/api/v1`, without authentication).
public struct NodeProbe: Sendable {
    /// The Prometheus exposition text.
    public var metrics: @Sendable () async -> String
    /// Facts about the node for `/health` (queue depth, draining…), as JSON members.
    public var facts: @Sendable () async -> [(String, Int)]

    public init(metrics: @escaping @Sendable () async -> String, facts: @escaping @Sendable () async -> [(String, Int)]) {
        self.metrics = metrics
        self.facts = facts
    }
}

/// Sends a failed delivery's kept message (its envelope sender and bytes) once more.
public typealias MessageResender = @Sendable (FailedDelivery, String?, [UInt8]) async throws -> Void

/// Queues a message Postern writes itself.
public typealias NoticeSender = @Sendable (NoticeMessage) async throws -> Void

/// The addy.io-compatible REST API, with `/metrics` and `/health` beside it.
public enum APIServer {
    public static let version = (major: 0, minor: 1, patch: 0)

    /// The Hummingbird application serving the API on `config.apiListen`.
    /// `dns`: the node's DNS cache, shared with mail authentication; without one the API makes its own.
    /// `routingChanged`: told after every write the API carried out (a POST, PATCH, PUT or DELETE that
    /// succeeded), before the answer goes out, so that nodes forget the aliases they kept.
    public static func application(pool: ConnectionPool, config: NodeConfig, logger: Logger, probe: NodeProbe? = nil,
                                   resend: MessageResender? = nil, notify: NoticeSender? = nil, dns: (any MailAuthDNS)? = nil,
                                   routingChanged: (@Sendable () async throws -> Void)? = nil)
        -> some ApplicationProtocol
    {
        let (router, _) = makeRouter(pool: pool, config: config, logger: logger, resend: resend, notify: notify, dns: dns,
                                     routingChanged: routingChanged)
        VerificationRoutes(recipients: Recipients(pool: pool)).register(router)
        if let probe { NodeRoutes(pool: pool, probe: probe).register(router) }
        DeactivationRoutes(pool: pool, secrets: config.srs.secrets).register(router)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(config.apiListen.host, port: Int(config.apiListen.port)), serverName: "Postern"),
            logger: logger)
    }

    /// Every route the API serves, as `METHOD /path` (paths with `{id}` parameters).
    public static func routeList(config: NodeConfig) -> [String] {
        let pool = ConnectionPool(options: config.database.connectionOptions)
        return makeRouter(pool: pool, config: config, logger: Logger(label: "postern.api")).1
    }

    static func makeRouter(pool: ConnectionPool, config: NodeConfig, logger: Logger, resend: MessageResender? = nil,
                           notify: NoticeSender? = nil, dns: (any MailAuthDNS)? = nil,
                           routingChanged: (@Sendable () async throws -> Void)? = nil)
        -> (Router<APIRequestContext>, [String])
    {
        let services = APIServices(pool: pool, config: config, logger: logger, resend: resend, notify: notify, dns: dns)
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: ErrorMappingMiddleware(logger: logger))
        if let routingChanged { router.add(middleware: RoutingChangeMiddleware(changed: routingChanged, logger: logger)) }
        let limiter = RateLimiter(requestsPerMinute: config.apiRateLimit)
        let group = router.group("api/v1").add(middleware: BearerAuthMiddleware(tokens: services.tokens, limiter: limiter))
        let book = RouteBook(group)
        AliasRoutes(services: services).register(book)
        RecipientRoutes(services: services).register(book)
        UsernameRoutes(services: services).register(book)
        DomainRoutes(services: services).register(book)
        AccountRoutes(services: services).register(book)
        return (router, book.entries)
    }
}

/// Tells the node after each write that succeeded: whatever it changed (an alias deactivated, a
/// recipient verified, a user's settings) may change how mail is routed. A write whose telling fails
/// still answers as it happened; the other nodes' kept answers run out on their own within seconds.
struct RoutingChangeMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let changed: @Sendable () async throws -> Void
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let response = try await next(request, context)
        if request.method != .get, request.method != .head, request.method != .options, (200..<300).contains(response.status.code) {
            do {
                try await changed()
            } catch {
                logger.warning("could not tell the nodes of a change", metadata: ["error": "\(error)"])
            }
        }
        return response
    }
}

/// Turns what the stores throw into addy.io's answers: unknown or foreign ids are 404, a database
/// outage is 503, and nothing unexpected leaks out as anything but a plain JSON 500.
struct ErrorMappingMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch DirectoryError.notFound {
            throw APIError.notFound
        } catch let error as DirectoryError {
            throw APIError(.unprocessableContent, error.description)
        } catch let error as MariaDBError {
            switch error {
            case .unreachable, .connectionLost, .timeout, .poolExhausted, .poolClosed:
                logger.warning("database unavailable for an API request", metadata: ["error": "\(error)"])
                throw APIError(.serviceUnavailable, "The service is temporarily unavailable; try again shortly.",
                               headers: [.retryAfter: "5"])
            default:
                logger.error("database error in an API request", metadata: ["error": "\(error)"])
                throw APIError(.internalServerError, "Server Error")
            }
        } catch let error as HTTPError {
            throw APIError(error.status, error.status == .notFound ? "Not found." : error.status.reasonPhrase)
        } catch {
            logger.error("unexpected error in an API request", metadata: ["error": "\(error)"])
            throw APIError(.internalServerError, "Server Error")
        }
    }
}

extension Request {
    /// The base URL clients used, for pagination links.
    var baseURL: String {
        let host = head.authority ?? "localhost"
        return "http://" + host
    }

    var queryParameters: QueryParameters { QueryParameters(uri.query) }
}

extension APIRequestContext {
    /// The `{id}` of the route.
    func id() throws -> String {
        guard let id = parameters.get("id"), id.utf8.count <= 64 else { throw APIError.notFound }
        return id
    }
}
