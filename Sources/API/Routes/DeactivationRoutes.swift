import Directory
import Foundation
import Hummingbird
import MailCore
import Storage

/// `/deactivate/{id}?signature=S`, the link in a forwarded message's banner (`DeactivationLink`).
/// GET only shows a button, since mail scanners and link previews fetch links; the POST it sends
/// deactivates the alias. A wrong signature is 403, an alias that is gone 404.
struct DeactivationRoutes {
    let pool: ConnectionPool
    let secrets: [String]

    func register(_ router: Router<APIRequestContext>) {
        router.get("deactivate/:id") { request, context in
            let (_, email, refusal) = try await checked(request, context)
            guard let email else { return refusal! }
            return HTMLPage.response(.ok, """
                Deactivate the alias <b>\(HTMLPage.escaped(email))</b>? Mail to it will no longer be forwarded.
                <form method="post"><button type="submit">Deactivate</button></form>
                """)
        }
        router.post("deactivate/:id") { request, context in
            let (id, email, refusal) = try await checked(request, context)
            guard let email else { return refusal! }
            try await pool.execute("UPDATE aliases SET active = 0, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
                                   [.date(Date().atDatabasePrecision), .text(id)])
            return HTMLPage.response(.ok, "The alias <b>\(HTMLPage.escaped(email))</b> is deactivated.")
        }
    }

    /// The alias id and address a link names, or the page to answer instead (a bad signature, an alias
    /// that is gone).
    func checked(_ request: Request, _ context: APIRequestContext) async throws -> (String, String?, Response?) {
        let id = try context.parameters.require("id")
        let signature = request.uri.queryParameters.get("signature") ?? ""
        guard DeactivationLink.verify(aliasID: id, signature: signature, secrets: secrets) else {
            return (id, nil, HTMLPage.response(.forbidden, "This link is not valid."))
        }
        guard let email = try await pool.query("SELECT email FROM aliases WHERE id = ? AND deleted_at IS NULL", [.text(id)])
            .first?.string("email")
        else { return (id, nil, HTMLPage.response(.notFound, "This alias does not exist any more.")) }
        return (id, email, nil)
    }
}

/// The small HTML pages that links in mail open (deactivation, verification).
enum HTMLPage {
    static func response(_ status: HTTPResponse.Status, _ html: String) -> Response {
        let body = "<!doctype html><meta charset=utf-8><title>Postern</title><p>\(html)</p>\n"
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
