import CMariaDB
import Foundation

/// Memory that `MYSQL_BIND` structures point into. Connector/C keeps those pointers between
/// bind and execute/fetch, so every buffer is allocated at a fixed address and freed only when
/// this object goes away, after the statement has run.
final class BindBuffers {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit { for pointer in allocations { pointer.deallocate() } }

    func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<T>.stride * max(count, 1), alignment: MemoryLayout<T>.alignment)
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// A parameter binding for one value.
    func bind(_ value: SQLValue) throws(StatementFailure) -> MYSQL_BIND {
        var bind = MYSQL_BIND()
        switch value {
        case .null:
            bind.buffer_type = MYSQL_TYPE_NULL
        case .int(let v):
            bind.buffer_type = MYSQL_TYPE_LONGLONG
            bind.buffer = UnsafeMutableRawPointer(store(v))
        case .uint(let v):
            bind.buffer_type = MYSQL_TYPE_LONGLONG
            bind.is_unsigned = 1
            bind.buffer = UnsafeMutableRawPointer(store(v))
        case .double(let v):
            bind.buffer_type = MYSQL_TYPE_DOUBLE
            bind.buffer = UnsafeMutableRawPointer(store(v))
        case .text(let s):
            bind.buffer_type = MYSQL_TYPE_STRING
            bindBytes(Array(s.utf8), into: &bind)
        case .blob(let b):
            bind.buffer_type = MYSQL_TYPE_BLOB
            bindBytes(b, into: &bind)
        case .date(let d):
            guard let time = MariaDBTime.time(from: d) else {
                throw StatementFailure(code: 2036, sqlState: "22007", message: "date \(d) is outside years 1000 to 9999")
            }
            bind.buffer_type = MYSQL_TYPE_DATETIME
            bind.buffer = UnsafeMutableRawPointer(store(time))
        }
        return bind
    }

    /// A result binding for one column, sized from the column's longest value in the stored result.
    func column(for field: MYSQL_FIELD) -> ResultColumn {
        let kind = ResultColumn.Kind(field)
        var bind = MYSQL_BIND()
        let length = allocate(UInt.self)
        let isNull = allocate(my_bool.self)
        let error = allocate(my_bool.self)
        length.pointee = 0
        isNull.pointee = 0
        bind.length = length
        bind.is_null = isNull
        bind.error = error
        switch kind {
        case .signed, .unsigned:
            bind.buffer_type = MYSQL_TYPE_LONGLONG
            bind.is_unsigned = kind == .unsigned ? 1 : 0
            bind.buffer = UnsafeMutableRawPointer(allocate(Int64.self))
            bind.buffer_length = 8
        case .double:
            bind.buffer_type = MYSQL_TYPE_DOUBLE
            bind.buffer = UnsafeMutableRawPointer(allocate(Double.self))
            bind.buffer_length = 8
        case .time:
            bind.buffer_type = MYSQL_TYPE_DATETIME
            bind.buffer = UnsafeMutableRawPointer(allocate(MYSQL_TIME.self))
            bind.buffer_length = UInt(MemoryLayout<MYSQL_TIME>.stride)
        case .text, .binary:
            let capacity = max(Int(field.max_length), 1)
            bind.buffer_type = MYSQL_TYPE_BLOB
            bind.buffer = UnsafeMutableRawPointer(allocate(UInt8.self, count: capacity))
            bind.buffer_length = UInt(capacity)
        }
        return ResultColumn(kind: kind, bind: bind)
    }

    private func store<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let pointer = allocate(T.self)
        pointer.initialize(to: value)
        return pointer
    }

    private func bindBytes(_ bytes: [UInt8], into bind: inout MYSQL_BIND) {
        let buffer = allocate(UInt8.self, count: bytes.count)
        bytes.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { buffer.update(from: base, count: bytes.count) }
        }
        let length = store(UInt(bytes.count))
        bind.buffer = UnsafeMutableRawPointer(buffer)
        bind.buffer_length = UInt(bytes.count)
        bind.length = length
    }
}

/// One column of a result set: how it is bound and how its fetched bytes become a `SQLValue`.
struct ResultColumn {
    enum Kind: Equatable {
        case signed, unsigned, double, time, text, binary

        init(_ field: MYSQL_FIELD) {
            switch field.type {
            case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_INT24, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG,
                MYSQL_TYPE_YEAR:
                self = field.flags & UInt32(UNSIGNED_FLAG) != 0 ? .unsigned : .signed
            case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
                self = .double
            case MYSQL_TYPE_DATE, MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_NEWDATE:
                self = .time
            case MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL:
                self = .text  // numeric columns report the binary character set, but a decimal is text
            default:
                self = field.charsetnr == 63 ? .binary : .text  // 63 is the `binary` character set
            }
        }
    }

    let kind: Kind
    let bind: MYSQL_BIND

    func value() -> SQLValue {
        if bind.is_null.pointee != 0 { return .null }
        let buffer = bind.buffer!
        switch kind {
        case .signed: return .int(buffer.load(as: Int64.self))
        case .unsigned: return .uint(buffer.load(as: UInt64.self))
        case .double: return .double(buffer.load(as: Double.self))
        case .time: return MariaDBTime.date(from: buffer.load(as: MYSQL_TIME.self)).map(SQLValue.date) ?? .null
        case .text, .binary:
            let count = Int(bind.length.pointee)
            let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: count))
            return kind == .text ? .text(String(decoding: bytes, as: UTF8.self)) : .blob(bytes)
        }
    }
}

/// Conversions between instants and `MYSQL_TIME`, always in UTC (each session sets time_zone '+00:00').
enum MariaDBTime {
    /// nil outside the years a DATETIME holds (1000 to 9999).
    static func time(from date: Date) -> MYSQL_TIME? {
        let seconds1970 = date.timeIntervalSince1970
        guard seconds1970.isFinite, seconds1970 > -30_610_224_000, seconds1970 < 253_402_300_800 else { return nil }
        let micros = (seconds1970 * 1_000_000).rounded()
        let seconds = Int((micros / 1_000_000).rounded(.down))
        let fraction = UInt(micros - Double(seconds) * 1_000_000)
        var clock = time_t(seconds)
        var parts = tm()
        gmtime_r(&clock, &parts)
        var time = MYSQL_TIME()
        time.year = UInt32(parts.tm_year + 1900)
        time.month = UInt32(parts.tm_mon + 1)
        time.day = UInt32(parts.tm_mday)
        time.hour = UInt32(parts.tm_hour)
        time.minute = UInt32(parts.tm_min)
        time.second = UInt32(parts.tm_sec)
        time.second_part = fraction
        time.time_type = MYSQL_TIMESTAMP_DATETIME
        return time
    }

    /// nil for the zero date, which is no instant.
    static func date(from time: MYSQL_TIME) -> Date? {
        guard time.year > 0, time.month > 0, time.day > 0 else { return nil }
        var parts = tm()
        parts.tm_year = Int32(time.year) - 1900
        parts.tm_mon = Int32(time.month) - 1
        parts.tm_mday = Int32(time.day)
        parts.tm_hour = Int32(time.hour)
        parts.tm_min = Int32(time.minute)
        parts.tm_sec = Int32(time.second)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds) + Double(time.second_part) / 1_000_000)
    }
}
