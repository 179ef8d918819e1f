import NIOCore
import NIOEmbedded
import SMTPCore
import Testing

@testable import SMTPClient

/// The client handler on an in-memory channel: what it does with replies nobody asked for, and with
/// exchanges on a channel that is already closed.
@Suite struct SMTPClientHandlerTests {
    func connected() async throws -> NIOAsyncTestingChannel {
        let channel = await NIOAsyncTestingChannel(handler: SMTPClientHandler())
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 25)).get()
        return channel
    }

    func greeted() async throws -> NIOAsyncTestingChannel {
        let channel = try await connected()
        try await channel.writeInbound(ByteBuffer(string: "220 mx.example ESMTP\r\n"))
        let greeting = try await SMTPClientConnection.exchange(channel, [], replies: 1, timeout: .seconds(5))
        #expect(greeting.first?.code == 220)
        return channel
    }

    @Test(.timeLimit(.minutes(1))) func anExchangeOnAClosedChannelFailsInsteadOfWaiting() async throws {
        let channel = try await greeted()
        try await channel.close()
        await #expect(throws: (any Error).self) {
            try await SMTPClientConnection.exchange(channel, Array("QUIT\r\n".utf8), replies: 1, timeout: .seconds(3600))
        }
    }

    @Test func anUnaskedReplyFailsTheConnection() async throws {
        let channel = try await greeted()
        #expect(channel.isActive)
        try await channel.writeInbound(ByteBuffer(string: "421 4.4.2 closing\r\n"))
        #expect(!channel.isActive, "a pooled connection with a stray reply is not used again")
    }

    @Test func aReplyThatArrivesBeforeTheGreetingIsAwaitedIsKept() async throws {
        let channel = try await connected()
        try await channel.writeInbound(ByteBuffer(string: "220 early\r\n"))
        #expect(channel.isActive)
        let greeting = try await SMTPClientConnection.exchange(channel, [], replies: 1, timeout: .seconds(5))
        #expect(greeting.first?.lines == ["early"])
    }
}
