import Foundation

/// Laravel's paginated resource collection, as addy.io returns lists: `data`, `links` and `meta`.
struct Page {
    var items: [JSONValue]
    var total: Int
    var number: Int
    var size: Int

    func json(base: String, path: String) -> JSONValue {
        let lastPage = max(1, (total + size - 1) / size)
        func url(_ page: Int) -> String { base + path + "?page%5Bnumber%5D=\(page)&page%5Bsize%5D=\(size)" }
        let from: JSONValue = items.isEmpty ? .null : .int((number - 1) * size + 1)
        let to: JSONValue = items.isEmpty ? .null : .int((number - 1) * size + items.count)
        var pageLinks: [JSONValue] = [
            link(number > 1 ? url(number - 1) : nil, "&laquo; Previous", false)
        ]
        for page in 1...lastPage { pageLinks.append(link(url(page), String(page), page == number)) }
        pageLinks.append(link(number < lastPage ? url(number + 1) : nil, "Next &raquo;", false))
        return .object([
            ("data", .array(items)),
            ("links", .object([
                ("first", .string(url(1))), ("last", .string(url(lastPage))),
                ("prev", .string(number > 1 ? url(number - 1) : nil)),
                ("next", .string(number < lastPage ? url(number + 1) : nil)),
            ])),
            ("meta", .object([
                ("current_page", .int(number)), ("from", from), ("last_page", .int(lastPage)),
                ("links", .array(pageLinks)), ("path", .string(base + path)), ("per_page", .int(size)),
                ("to", to), ("total", .int(total)),
            ])),
        ])
    }

    private func link(_ url: String?, _ label: String, _ active: Bool) -> JSONValue {
        .object([("url", .string(url)), ("label", .string(label)), ("active", .bool(active))])
    }
}
