-- Postern initial schema. Never edit this file once applied: add a new migration instead.
-- Ids are UUIDs as text (as addy.io's API shows them); times are UTC DATETIME(6).

CREATE TABLE users (
    id CHAR(36) NOT NULL PRIMARY KEY,
    default_username_id CHAR(36) NULL,
    default_recipient_id CHAR(36) NULL,
    default_alias_domain VARCHAR(253) NULL,
    default_alias_format VARCHAR(32) NOT NULL DEFAULT 'random_characters',
    from_name VARCHAR(255) NULL,
    display_from_format TINYINT UNSIGNED NOT NULL DEFAULT 0,
    use_reply_to TINYINT(1) NOT NULL DEFAULT 0,
    banner_location VARCHAR(8) NOT NULL DEFAULT 'top',
    reject_deactivated TINYINT(1) NOT NULL DEFAULT 0,
    bandwidth BIGINT UNSIGNED NOT NULL DEFAULT 0,
    bandwidth_limit BIGINT UNSIGNED NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every username of an account, the default one included: mail to ANYTHING@USERNAME.<domains.root>.
CREATE TABLE usernames (
    id CHAR(36) NOT NULL PRIMARY KEY,
    user_id CHAR(36) NOT NULL,
    username VARCHAR(64) NOT NULL,
    description TEXT NULL,
    active TINYINT(1) NOT NULL DEFAULT 1,
    catch_all TINYINT(1) NOT NULL DEFAULT 1,
    can_login TINYINT(1) NOT NULL DEFAULT 1,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE KEY usernames_username (username),
    KEY usernames_user (user_id),
    CONSTRAINT usernames_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The real mailboxes mail is forwarded to.
CREATE TABLE recipients (
    id CHAR(36) NOT NULL PRIMARY KEY,
    user_id CHAR(36) NOT NULL,
    email VARCHAR(254) NOT NULL,
    email_verified_at DATETIME(6) NULL,
    can_reply_send TINYINT(1) NOT NULL DEFAULT 1,
    should_encrypt TINYINT(1) NOT NULL DEFAULT 0,
    inline_encryption TINYINT(1) NOT NULL DEFAULT 0,
    protected_headers TINYINT(1) NOT NULL DEFAULT 0,
    public_key MEDIUMTEXT NULL,
    fingerprint VARCHAR(64) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE KEY recipients_user_email (user_id, email),
    KEY recipients_email (email),
    CONSTRAINT recipients_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Custom domains a user proved (TXT) and pointed at the relay (MX).
CREATE TABLE domains (
    id CHAR(36) NOT NULL PRIMARY KEY,
    user_id CHAR(36) NOT NULL,
    domain VARCHAR(253) NOT NULL,
    description TEXT NULL,
    from_name VARCHAR(255) NULL,
    default_recipient_id CHAR(36) NULL,
    active TINYINT(1) NOT NULL DEFAULT 1,
    catch_all TINYINT(1) NOT NULL DEFAULT 1,
    domain_verified_at DATETIME(6) NULL,
    domain_mx_validated_at DATETIME(6) NULL,
    domain_sending_verified_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE KEY domains_domain (domain),
    KEY domains_user (user_id),
    CONSTRAINT domains_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT domains_recipient_fk FOREIGN KEY (default_recipient_id) REFERENCES recipients (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Aliases. `email` stays unique after a soft delete (deleted_at), so an address is never reused
-- by someone else; "forget" removes the row.
CREATE TABLE aliases (
    id CHAR(36) NOT NULL PRIMARY KEY,
    user_id CHAR(36) NOT NULL,
    aliasable_type VARCHAR(16) NULL,
    aliasable_id CHAR(36) NULL,
    local_part VARCHAR(64) NOT NULL,
    extension VARCHAR(64) NULL,
    domain VARCHAR(253) NOT NULL,
    email VARCHAR(254) NOT NULL,
    description TEXT NULL,
    from_name VARCHAR(255) NULL,
    active TINYINT(1) NOT NULL DEFAULT 1,
    attached_recipients_only TINYINT(1) NOT NULL DEFAULT 0,
    emails_forwarded INT UNSIGNED NOT NULL DEFAULT 0,
    emails_blocked INT UNSIGNED NOT NULL DEFAULT 0,
    emails_replied INT UNSIGNED NOT NULL DEFAULT 0,
    emails_sent INT UNSIGNED NOT NULL DEFAULT 0,
    last_forwarded DATETIME(6) NULL,
    last_blocked DATETIME(6) NULL,
    last_replied DATETIME(6) NULL,
    last_sent DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    deleted_at DATETIME(6) NULL,
    UNIQUE KEY aliases_email (email),
    KEY aliases_user (user_id, deleted_at),
    CONSTRAINT aliases_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE alias_recipients (
    alias_id CHAR(36) NOT NULL,
    recipient_id CHAR(36) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (alias_id, recipient_id),
    KEY alias_recipients_recipient (recipient_id),
    CONSTRAINT alias_recipients_alias_fk FOREIGN KEY (alias_id) REFERENCES aliases (id) ON DELETE CASCADE,
    CONSTRAINT alias_recipients_recipient_fk FOREIGN KEY (recipient_id) REFERENCES recipients (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- API tokens: only the SHA-256 of the token is stored.
CREATE TABLE api_tokens (
    id CHAR(36) NOT NULL PRIMARY KEY,
    user_id CHAR(36) NOT NULL,
    label VARCHAR(255) NOT NULL,
    token_hash BINARY(32) NOT NULL,
    last_used_at DATETIME(6) NULL,
    expires_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY api_tokens_hash (token_hash),
    KEY api_tokens_user (user_id),
    CONSTRAINT api_tokens_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Deliveries that failed for good: shown to the alias owner, never bounced to the original sender.
CREATE TABLE failed_deliveries (
    id CHAR(36) NOT NULL PRIMARY KEY,
    user_id CHAR(36) NOT NULL,
    recipient_id CHAR(36) NULL,
    alias_id CHAR(36) NULL,
    bounce_type VARCHAR(16) NULL,
    remote_mta VARCHAR(255) NULL,
    sender VARCHAR(254) NULL,
    email_type VARCHAR(16) NULL,
    status VARCHAR(16) NULL,
    code TEXT NULL,
    attempted_at DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    KEY failed_deliveries_user (user_id, created_at),
    CONSTRAINT failed_deliveries_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT failed_deliveries_recipient_fk FOREIGN KEY (recipient_id) REFERENCES recipients (id) ON DELETE SET NULL,
    CONSTRAINT failed_deliveries_alias_fk FOREIGN KEY (alias_id) REFERENCES aliases (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The nodes sharing this database, their heartbeat and role (one holds `active`).
CREATE TABLE nodes (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    hostname VARCHAR(253) NOT NULL,
    role VARCHAR(16) NOT NULL DEFAULT 'standby',
    state VARCHAR(16) NOT NULL DEFAULT 'running',
    queue_depth INT UNSIGNED NOT NULL DEFAULT 0,
    version VARCHAR(32) NULL,
    started_at DATETIME(6) NOT NULL,
    last_heartbeat DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
