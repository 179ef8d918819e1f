import ArgumentParser
import Directory
import Foundation
import Storage

/// A command failed: its lines go to stderr and the process exits 1.
struct CLIFailure: Error {
    var lines: [String]

    init(lines: [String]) { self.lines = lines }
    init(_ line: String) { self.lines = [line] }
}

/// Runs a command body, turning every error into one clear line on stderr and exit status 1.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as CLIFailure {
        for line in failure.lines { printError("postern: \(line)") }
        throw ExitCode.failure
    } catch let error as ExitCode {
        throw error
    } catch {
        printError("postern: \(describe(error))")
        throw ExitCode.failure
    }
}

/// Words for an error that an operator can act on.
func describe(_ error: any Error) -> String {
    switch error {
    case MariaDBError.server(let code, _, let message) where code == 1146:
        return "the database has no schema yet (\(message)): run `postern migrate` first"
    case let error as MariaDBError:
        return error.description
    case let error as DirectoryError:
        return error.description
    case let error as Migrator.Failure:
        return error.description
    case let error as Migration.LoadError:
        return error.description
    default:
        return "\(error)"
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
