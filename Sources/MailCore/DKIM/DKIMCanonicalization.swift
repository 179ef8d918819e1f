/// DKIM's canonicalizations (RFC 6376 §3.4): "relaxed" (§3.4.2, §3.4.4), which the signer uses, and "simple"
/// (§3.4.1, §3.4.3), which a verifier meets too.
public enum DKIMCanonicalization {
    /// `name:value` lower-cased name, unfolded, runs of whitespace as one space, none around the colon
    /// or at the end, then CR LF.
    public static func relaxedHeader(_ raw: ArraySlice<UInt8>, withLineEnd: Bool = true) -> [UInt8] {
        let colon = raw.firstIndex(of: UInt8(ascii: ":")) ?? raw.endIndex
        var out: [UInt8] = []
        for byte in raw[raw.startIndex..<colon] where byte != 32 && byte != 9 && byte != 13 && byte != 10 {
            out.append((65...90).contains(byte) ? byte + 32 : byte)
        }
        out.append(UInt8(ascii: ":"))
        var value: [UInt8] = []
        var pendingSpace = false
        for byte in raw[(colon < raw.endIndex ? colon + 1 : colon)...] {
            if byte == 13 || byte == 10 { continue }
            if byte == 32 || byte == 9 {
                pendingSpace = !value.isEmpty
                continue
            }
            if pendingSpace { value.append(32) }
            pendingSpace = false
            value.append(byte)
        }
        out += value
        if withLineEnd { out += [13, 10] }
        return out
    }

    /// The body with runs of whitespace as one space, no whitespace at line ends, no empty lines at the
    /// end, and a final CR LF unless it is empty.
    public static func relaxedBody(_ body: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        // Written straight to `out`: empty lines are held back until a line with content follows (at
        // the end they are dropped), and a run of blanks becomes one space once something follows it.
        var heldEmptyLines = 0
        var lineLength = 0
        var pendingSpace = false
        var index = body.startIndex
        let end = body.endIndex
        while index < end {
            let byte = body[index]
            if byte == 13, index + 1 < end, body[index + 1] == 10 {
                if lineLength == 0 {
                    heldEmptyLines += 1
                } else {
                    out.append(13)
                    out.append(10)
                    lineLength = 0
                }
                pendingSpace = false
                index += 2
                continue
            }
            if byte == 32 || byte == 9 {
                pendingSpace = true
            } else {
                if lineLength == 0 {
                    for _ in 0..<heldEmptyLines {
                        out.append(13)
                        out.append(10)
                    }
                    heldEmptyLines = 0
                }
                if pendingSpace {
                    out.append(32)
                    lineLength += 1
                    pendingSpace = false
                }
                out.append(byte)
                lineLength += 1
            }
            index += 1
        }
        if lineLength > 0 {
            out.append(13)
            out.append(10)
        }
        return out
    }
}

extension DKIMCanonicalization {
    /// A header field as it is: the raw bytes, with or without its final CR LF.
    public static func simpleHeader(_ raw: ArraySlice<UInt8>, withLineEnd: Bool = true) -> [UInt8] {
        var out = Array(raw)
        if !withLineEnd {
            if out.last == 10 { out.removeLast() }
            if out.last == 13 { out.removeLast() }
        } else if out.last != 10 {
            out += [13, 10]
        }
        return out
    }

    /// The body unchanged but for the empty lines at its end, and one CR LF when it is empty or does
    /// not end in one.
    public static func simpleBody(_ body: ArraySlice<UInt8>) -> [UInt8] {
        var end = body.endIndex
        // Drop trailing CR LF pairs, then give one back: a body ending in a line end keeps exactly one.
        while end - body.startIndex >= 2, body[end - 2] == 13, body[end - 1] == 10 { end -= 2 }
        return Array(body[body.startIndex..<end]) + [13, 10]
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
