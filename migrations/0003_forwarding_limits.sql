-- Limits per user (SPEC §4, issue 6). The counters live here, so every node sees the same ones. A
-- user's own limit, when set, overrides the node's `limits.*` default; NULL takes the default, 0 is
-- no limit.

-- Messages per hour (over it: 452 4.2.2 at RCPT) and new catch-all aliases per hour (450 4.2.1).
ALTER TABLE users ADD COLUMN messages_per_hour_limit INT UNSIGNED NULL AFTER bandwidth_limit;
ALTER TABLE users ADD COLUMN new_aliases_per_hour_limit INT UNSIGNED NULL AFTER messages_per_hour_limit;

-- Bandwidth is counted per calendar month (UTC): `bandwidth` holds the bytes of `bandwidth_month`
-- ('YYYY-MM'); the first count in a new month starts again from zero. The limit follows the rule
-- above (it was 0 = none before; such rows now take the node's default).
ALTER TABLE users ADD COLUMN bandwidth_month CHAR(7) NULL AFTER bandwidth;
ALTER TABLE users MODIFY COLUMN bandwidth_limit BIGINT UNSIGNED NULL DEFAULT NULL;
UPDATE users SET bandwidth_limit = NULL WHERE bandwidth_limit = 0;

-- Messages accepted per user and hour (UTC, the hour's start).
CREATE TABLE user_hourly_messages (
    user_id CHAR(36) NOT NULL,
    hour DATETIME NOT NULL,
    messages INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, hour),
    CONSTRAINT user_hourly_messages_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Catch-all aliases created per user and hour are counted from aliases.created_at (index
-- aliases_user_created, 0002).

-- A copy of a message whose delivery failed for good, kept 7 days so its owner can have it sent
-- again (POST /api/v1/failed-deliveries/{id}/resend). The bytes are as Postern accepted them.
CREATE TABLE failed_delivery_messages (
    failed_delivery_id CHAR(36) NOT NULL PRIMARY KEY,
    sender VARCHAR(320) NULL,
    message LONGBLOB NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    KEY failed_delivery_messages_expiry (expires_at),
    CONSTRAINT failed_delivery_messages_fk FOREIGN KEY (failed_delivery_id) REFERENCES failed_deliveries (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- An alias may place its banner differently from its owner's default (NULL: the owner's).
ALTER TABLE aliases ADD COLUMN banner_location VARCHAR(8) NULL AFTER from_name;
