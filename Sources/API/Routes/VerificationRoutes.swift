import Directory
import Hummingbird

/// `/verify/{token}`, the link in a verification mail. GET only shows a button, since mail scanners
/// fetch links; the POST it sends marks the recipient verified. An unknown or used token is 404.
struct VerificationRoutes {
    let recipients: Recipients

    func register(_ router: Router<APIRequestContext>) {
        router.get("verify/:token") { _, _ in
            HTMLPage.response(.ok, """
                Confirm this address as a recipient of forwarded mail?
                <form method="post"><button type="submit">Confirm</button></form>
                """)
        }
        router.post("verify/:token") { _, context in
            let token = try context.parameters.require("token")
            guard token.count <= 128, try await recipients.verify(token: token) else {
                return HTMLPage.response(.notFound, "This link is not valid, or it was used already.")
            }
            return HTMLPage.response(.ok, "The address is confirmed: mail for your aliases is forwarded to it now.")
        }
    }
}
