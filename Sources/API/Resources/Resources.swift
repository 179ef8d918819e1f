import Directory
import Foundation

/// The JSON shapes of addy.io's API resources, field for field, in addy.io's order.
enum Resources {
    static func recipient(_ r: Recipient) -> JSONValue {
        .object([
            ("id", .string(r.id)), ("user_id", .string(r.userID)), ("email", .string(r.email)),
            ("can_reply_send", .bool(r.canReplySend)), ("should_encrypt", .bool(r.shouldEncrypt)),
            ("inline_encryption", .bool(r.inlineEncryption)), ("protected_headers", .bool(r.protectedHeaders)),
            ("fingerprint", .string(r.fingerprint)), ("email_verified_at", APITime.json(r.verifiedAt)),
            // Stripping PGP keys and signatures from forwarded mail is not offered (yet): always off.
            ("remove_pgp_keys", .bool(false)), ("remove_pgp_signatures", .bool(false)),
            ("aliases_count", .int(r.aliasesCount)), ("created_at", APITime.json(r.createdAt)),
            ("updated_at", APITime.json(r.updatedAt)),
        ])
    }

    static func alias(_ a: Alias) -> JSONValue {
        let (ownerType, ownerID): (String?, String?) =
            switch a.owner {
            case .username(let id)?: ("App\\Models\\Username", id)
            case .customDomain(let id)?: ("App\\Models\\Domain", id)
            case nil: (nil, nil)
            }
        return .object([
            ("id", .string(a.id)), ("user_id", .string(a.userID)), ("aliasable_id", .string(ownerID)),
            ("aliasable_type", .string(ownerType)), ("local_part", .string(a.localPart)),
            ("extension", .string(a.extensionPart)), ("domain", .string(a.domain)), ("email", .string(a.email)),
            ("active", .bool(a.active)), ("description", .string(a.description)), ("from_name", .string(a.fromName)),
            ("banner_location", .string(a.bannerLocation)),
            ("attached_recipients_only", .bool(a.attachedRecipientsOnly)),
            ("emails_forwarded", .int(a.emailsForwarded)), ("emails_blocked", .int(a.emailsBlocked)),
            ("emails_replied", .int(a.emailsReplied)), ("emails_sent", .int(a.emailsSent)),
            ("recipients", .array(a.recipients.map(recipient))),
            ("last_forwarded", APITime.json(a.lastForwarded)), ("last_blocked", APITime.json(a.lastBlocked)),
            ("last_replied", APITime.json(a.lastReplied)), ("last_sent", APITime.json(a.lastSent)),
            ("created_at", APITime.json(a.createdAt)), ("updated_at", APITime.json(a.updatedAt)),
            ("deleted_at", APITime.json(a.deletedAt)),
        ])
    }

    static func username(_ u: Username, defaultRecipient: Recipient?) -> JSONValue {
        .object([
            ("id", .string(u.id)), ("user_id", .string(u.userID)), ("username", .string(u.username)),
            ("description", .string(u.description)), ("from_name", .string(u.fromName)),
            ("aliases_count", .int(u.aliasesCount)),
            ("default_recipient", defaultRecipient.map(recipient) ?? .null), ("active", .bool(u.active)),
            ("catch_all", .bool(u.catchAll)), ("can_login", .bool(u.canLogin)), ("auto_create_regex", .null),
            ("created_at", APITime.json(u.createdAt)), ("updated_at", APITime.json(u.updatedAt)),
        ])
    }

    static func domain(_ d: CustomDomain, defaultRecipient: Recipient?) -> JSONValue {
        .object([
            ("id", .string(d.id)), ("user_id", .string(d.userID)), ("domain", .string(d.domain)),
            ("description", .string(d.description)), ("from_name", .string(d.fromName)),
            ("aliases_count", .int(d.aliasesCount)),
            ("default_recipient", defaultRecipient.map(recipient) ?? .null), ("active", .bool(d.active)),
            ("catch_all", .bool(d.catchAll)), ("auto_create_regex", .null),
            ("domain_verified_at", APITime.json(d.verifiedAt)),
            ("domain_mx_validated_at", APITime.json(d.mxValidatedAt)),
            ("domain_sending_verified_at", APITime.json(d.sendingVerifiedAt)),
            ("verification_record", .string(d.verificationRecord)),
            ("created_at", APITime.json(d.createdAt)), ("updated_at", APITime.json(d.updatedAt)),
        ])
    }

    static func failedDelivery(_ f: FailedDelivery) -> JSONValue {
        .object([
            ("id", .string(f.id)), ("user_id", .string(f.userID)), ("recipient_id", .string(f.recipientID)),
            ("recipient_email", .string(f.recipientEmail)), ("alias_id", .string(f.aliasID)),
            ("alias_email", .string(f.aliasEmail)), ("bounce_type", .string(f.bounceType)),
            ("remote_mta", .string(f.remoteMTA)), ("sender", .string(f.sender)), ("email_type", .string(f.emailType)),
            ("status", .string(f.status)), ("code", .string(f.code)), ("attempted_at", APITime.json(f.attemptedAt)),
            ("created_at", APITime.json(f.createdAt)), ("updated_at", APITime.json(f.updatedAt)),
        ])
    }
}

extension Resources {
    static func account(_ d: AccountDetails) -> JSONValue {
        .object([
            ("id", .string(d.id)), ("username", .string(d.username)), ("from_name", .string(d.fromName)),
            ("email_subject", .null), ("banner_location", .string(d.bannerLocation)),
            ("dmarc_fail_warning", .string(d.dmarcFailWarning)),
            ("encryption_key_failure", .string(d.encryptionKeyFailure)), ("bandwidth", .int(Int64(d.bandwidth))),
            ("username_count", .int(d.usernameCount)), ("username_limit", .int(AccountDetails.usernameLimit)),
            ("default_username_id", .string(d.defaultUsernameID)), ("default_recipient_id", .string(d.defaultRecipientID)),
            ("default_alias_domain", .string(d.defaultAliasDomain)), ("default_alias_format", .string(d.defaultAliasFormat)),
            ("subscription", .null), ("subscription_ends_at", .null),
            ("bandwidth_limit", .int(Int64(d.bandwidthLimit))), ("recipient_count", .int(d.recipientCount)),
            ("recipient_limit", .null), ("active_domain_count", .int(d.activeDomainCount)), ("active_domain_limit", .null),
            ("active_rule_count", .int(0)),
            ("active_shared_domain_alias_count", .int(d.activeSharedDomainAliasCount)),
            ("active_shared_domain_alias_limit", .null),
            ("total_emails_forwarded", .int(d.totalForwarded)), ("total_emails_blocked", .int(d.totalBlocked)),
            ("total_emails_replied", .int(d.totalReplied)), ("total_emails_sent", .int(d.totalSent)),
            ("total_aliases", .int(d.totalAliases)), ("total_active_aliases", .int(d.totalActiveAliases)),
            ("total_inactive_aliases", .int(d.totalInactiveAliases)), ("total_deleted_aliases", .int(d.totalDeletedAliases)),
            ("created_at", APITime.json(d.createdAt)), ("updated_at", APITime.json(d.updatedAt)),
        ])
    }
}
