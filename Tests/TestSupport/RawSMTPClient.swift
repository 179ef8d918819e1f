import Foundation

/// A plain TCP client that sends exact bytes and reads replies: for tests that must write what no
/// well-behaved client library would (bare LF, smuggled dots, overlong lines, floods).
public final class RawSMTPClient {
    private let fd: Int32
    private var buffer: [UInt8] = []

    public struct Closed: Error {}

    public init(port: UInt16, timeout: Double = 10, readGreeting: Bool = true) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(port.bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Foundation.close(fd)
            throw Closed()
        }
        if readGreeting { _ = try reply() }
    }

    public func close() { Foundation.close(fd) }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Closed() }
            sent += n
        }
    }

    /// The next complete reply's code and lines; throws when the server closed or said nothing in time.
    public func reply() throws -> (code: Int, text: String) {
        var lines: [String] = []
        while true {
            let line = try readLine()
            lines.append(line)
            if line.count < 4 || Array(line.utf8)[3] != UInt8(ascii: "-") {
                return (Int(line.prefix(3)) ?? 0, lines.joined(separator: "\n"))
            }
        }
    }

    /// The codes of the next `count` replies.
    public func codes(_ count: Int) throws -> [Int] { try (0..<count).map { _ in try reply().code } }

    /// Whether the server has closed the connection (reads until EOF or timeout).
    public func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        while true {
            let n = recv(fd, &byte, 1, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    private func readLine() throws -> String {
        while true {
            if let end = buffer.firstIndex(of: 10) {
                let line = buffer[..<end]
                buffer.removeFirst(end + 1)
                return String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Closed() }
            buffer += chunk[..<n]
        }
    }
}
