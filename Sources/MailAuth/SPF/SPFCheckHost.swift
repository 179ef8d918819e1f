/// `check_host()` itself (RFC 7208 §4): find the record, run its directives left to right, then
/// `redirect=`; `exp=` for a fail.
extension SPFEvaluator {
    /// check_host() for the identity the client gave (§4.3): a name that cannot be a mail domain,
    /// like an address literal, has no SPF record.
    func evaluateIdentity(domain: String, _ context: SPFContext) async -> SPFOutcome {
        guard let name = SPFDomainName.checked(domain), SPFDomainName.isMailDomain(name) else {
            return SPFOutcome(result: .none, reason: "\(domain) is not a domain name")
        }
        var budget = SPFBudget()
        return await evaluate(domain: name, context, &budget)
    }

    /// check_host() for `domain`, also for includes and redirects, which share `budget`.
    func evaluate(domain: String, _ context: SPFContext, _ budget: inout SPFBudget) async -> SPFOutcome {
        // §4.3: a malformed or single-label domain has no SPF record.
        guard let domain = SPFDomainName.checked(domain), domain.contains(".") else {
            return SPFOutcome(result: .none, reason: "\(domain) is not a domain name")
        }
        let record: SPFRecord
        switch await fetchRecord(domain) {
        case .success(let found?): record = found
        case .success(nil): return SPFOutcome(result: .none, reason: "\(domain) has no SPF record")
        case .failure(let abort): return abort.outcome
        }
        do {
            return try await run(record, domain: domain, context, &budget)
        } catch {
            return error.outcome
        }
    }

    /// The one `v=spf1` TXT record of `domain` (§4.4, §4.5); nil for none.
    private func fetchRecord(_ domain: String) async -> Result<SPFRecord?, SPFAbort> {
        let lookup = await dns.lookup(domain, .txt)
        switch lookup {
        case .failed(let why): return .failure(.temperror("the TXT lookup of \(domain) failed: \(why)"))
        case .noSuchName: return .success(nil)
        case .found: break
        }
        let candidates = (lookup.texts ?? []).filter(SPFRecord.isSPF)
        guard candidates.count <= 1 else { return .failure(.permerror("\(domain) has more than one SPF record")) }
        guard let text = candidates.first else { return .success(nil) }
        do {
            return .success(try SPFRecord(parsing: text))
        } catch {
            return .failure(.permerror("the SPF record of \(domain) is invalid: \(error)"))
        }
    }

    private func run(_ record: SPFRecord, domain: String, _ context: SPFContext, _ budget: inout SPFBudget)
        async throws(SPFAbort) -> SPFOutcome
    {
        for directive in record.directives {
            if directive.mechanism.asksDNS { try budget.spendDNSTerm() }
            guard try await matches(directive.mechanism, domain: domain, context, &budget) else { continue }
            var outcome = SPFOutcome(
                result: directive.qualifier.result, reason: "\(directive.text) matched in the record of \(domain)")
            if outcome.result == .fail, let exp = record.explanation {
                outcome.explanation = await explanation(exp, domain: domain, context)
            }
            return outcome
        }
        guard let redirect = record.redirect else {
            return SPFOutcome(result: .neutral, reason: "nothing matched in the record of \(domain)")
        }
        // §6.1: the redirect's target decides, its own exp= included; "none" there is an error here.
        try budget.spendDNSTerm()
        guard let target = await targetName(redirect, domain: domain, context) else {
            throw .permerror("the redirect= of \(domain) is not a domain name")
        }
        let outcome = await evaluate(domain: target, context, &budget)
        if outcome.result == .none { throw .permerror("redirect=\(target) has no SPF record") }
        return outcome
    }

    /// The explanation of a fail (§6.2): the one TXT record at the `exp=` domain, macros expanded.
    /// Any trouble on the way means no explanation; the result stands.
    private func explanation(_ spec: SPFMacroString, domain: String, _ context: SPFContext) async -> String? {
        guard let target = await targetName(spec, domain: domain, context),
              let texts = await dns.lookup(target, .txt).texts, texts.count == 1,
              let text = try? SPFMacroString(Substring(texts[0]), explanation: true)
        else { return nil }
        return await text.expand { await macroValue($0, domain: domain, context) }
    }

    /// A domain-spec expanded into the name to ask for (§4.8, §7.3): cut from the left to 253
    /// characters; nil when that is still no valid domain name.
    func targetName(_ spec: SPFMacroString, domain: String, _ context: SPFContext) async -> String? {
        let expanded = await spec.expand { await macroValue($0, domain: domain, context) }
        return SPFDomainName.checked(SPFDomainName.truncated(expanded))
    }
}
