import Foundation

/// Where `migrations/*.sql` live: `--migrations`, else `$POSTERN_MIGRATIONS`, else `./migrations`,
/// else a `migrations` folder beside or above the executable (a source checkout), else
/// /usr/share/postern/migrations (a package install).
enum MigrationsLocator {
    static func find(explicit: String?) -> URL? {
        if let explicit { return URL(fileURLWithPath: explicit) }
        if let fromEnvironment = ProcessInfo.processInfo.environment["POSTERN_MIGRATIONS"] {
            return URL(fileURLWithPath: fromEnvironment)
        }
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folder = URL(fileURLWithPath: executable).deletingLastPathComponent()
        }
        for _ in 0..<5 {
            candidates.append(folder)
            folder = folder.deletingLastPathComponent()
        }
        for base in candidates {
            let url = base.appendingPathComponent("migrations")
            if hasSQLFiles(url) { return url }
        }
        let installed = URL(fileURLWithPath: "/usr/share/postern/migrations")
        return hasSQLFiles(installed) ? installed : nil
    }

    private static func hasSQLFiles(_ url: URL) -> Bool {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return files.contains { $0.hasSuffix(".sql") }
    }
}
