import DNS
import Dispatch
import Foundation

/// Asks one recursive resolver (`dns.resolver`): over UDP, again over TCP when the answer was
/// truncated (RFC 7766). Blocking socket work runs off the cooperative thread pool.
public struct DNSResolver: Sendable {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case timeout
        case network(String)
        case malformed(DNSMessageError)

        public var description: String {
            switch self {
            case .timeout: "the resolver did not answer"
            case .network(let text): text
            case .malformed(let error): "bad answer from the resolver: \(error)"
            }
        }
    }

    public let host: String
    public let port: Int
    public var timeout: Duration
    public var attempts: Int

    public init(host: String, port: Int, timeout: Duration = .seconds(3), attempts: Int = 2) {
        self.host = host
        self.port = port
        self.timeout = timeout
        self.attempts = attempts
    }

    public func query(_ name: String, _ type: DNSRecordType) async throws -> DNSResponse {
        let resolver = self
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try resolver.queryBlocking(name, type) })
            }
        }
    }

    func queryBlocking(_ name: String, _ type: DNSRecordType) throws -> DNSResponse {
        var lastError = Failure.timeout
        for _ in 0..<max(1, attempts) {
            let id = UInt16.random(in: 0...UInt16.max)
            let question: [UInt8]
            do { question = try DNSMessage.query(id: id, name: name, type: type) } catch { throw Failure.malformed(error) }
            do {
                let response = try exchangeUDP(question, id: id)
                return response.truncated ? try exchangeTCP(question, id: id) : response
            } catch let failure as Failure {
                lastError = failure
                if case .malformed = failure { throw failure }
            }
        }
        throw lastError
    }

    private var milliseconds: Int32 {
        Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    }

    private func socketAddress() throws -> (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeBytes(of: v4) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
        if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeBytes(of: v6) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
        throw Failure.network("dns.resolver must be an IP address, not \(host)")
    }

    private func openSocket(_ kind: Int32) throws -> Int32 {
        let (address, length) = try socketAddress()
        let fd = socket(Int32(address.ss_family), kind | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure.network("socket: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(milliseconds / 1000), tv_usec: Int(milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard connected == 0 else {
            let text = String(cString: strerror(errno))
            close(fd)
            throw Failure.network("connect to \(host):\(port): \(text)")
        }
        return fd
    }

    private func exchangeUDP(_ question: [UInt8], id: UInt16) throws -> DNSResponse {
        let fd = try openSocket(Int32(SOCK_DGRAM.rawValue))
        defer { close(fd) }
        guard question.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == question.count else {
            throw Failure.network("send: \(String(cString: strerror(errno)))")
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(milliseconds) * 1_000_000
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while DispatchTime.now().uptimeNanoseconds < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure.timeout }
                throw Failure.network("receive: \(String(cString: strerror(errno)))")
            }
            // An answer with another id (a late reply, or spoofing) is ignored: keep waiting.
            if let response = try? DNSMessage.decode(Array(buffer[..<n]), expectingID: id) { return response }
        }
        throw Failure.timeout
    }

    private func exchangeTCP(_ question: [UInt8], id: UInt16) throws -> DNSResponse {
        let fd = try openSocket(Int32(SOCK_STREAM.rawValue))
        defer { close(fd) }
        let framed = DNSMessage.tcpFramed(question)
        guard framed.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == framed.count else {
            throw Failure.network("send over TCP: \(String(cString: strerror(errno)))")
        }
        let header = try readExactly(fd, 2)
        let length = Int(header[0]) << 8 | Int(header[1])
        do {
            return try DNSMessage.decode(try readExactly(fd, length), expectingID: id)
        } catch let error as DNSMessageError {
            throw Failure.malformed(error)
        }
    }

    private func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { throw Failure.timeout }
            guard n > 0 else { throw Failure.network("the resolver closed the TCP connection") }
            got += n
        }
        return out
    }
}
