import Hummingbird
import Storage

/// `/metrics` (Prometheus text) and `/health` (JSON: 200 when the database answers, 503 otherwise).
struct NodeRoutes {
    let pool: ConnectionPool
    let probe: NodeProbe

    func register(_ router: Router<APIRequestContext>) {
        router.get("metrics") { _, _ in
            let text = await probe.metrics()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("health") { _, _ in
            let databaseUp = (try? await pool.query("SELECT 1 AS up")) != nil
            var members: [(String, JSONValue)] = [
                ("status", .string(databaseUp ? "ok" : "degraded")), ("database", .string(databaseUp ? "up" : "down")),
            ]
            for (name, value) in await probe.facts() { members.append((name, .int(value))) }
            return jsonResponse(.object(members), status: databaseUp ? .ok : .serviceUnavailable)
        }
    }
}
