-- Active/standby nodes sharing this database (issue 9).

-- Each node's SMTP address (for `postern node list`), and whether an administrator asked it to drain.
ALTER TABLE nodes ADD COLUMN smtp_address VARCHAR(80) NULL AFTER hostname;
ALTER TABLE nodes ADD COLUMN drain_requested TINYINT(1) NOT NULL DEFAULT 0 AFTER state;

-- The active role: one row, taken and renewed with conditional UPDATEs (compare-and-set on holder,
-- epoch and expiry, in the database's clock). `epoch` grows with every new holder and fences
-- singleton work. `handoff_to` names the node a planned failover hands the role to, until
-- `handoff_until`.
CREATE TABLE cluster_lease (
    name VARCHAR(32) NOT NULL PRIMARY KEY,
    holder VARCHAR(64) NULL,
    epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
    expires_at DATETIME(6) NOT NULL,
    handoff_to VARCHAR(64) NULL,
    handoff_until DATETIME(6) NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO cluster_lease (name, holder, epoch, expires_at, updated_at)
VALUES ('active', NULL, 0, '2000-01-01 00:00:00', NOW(6));

-- Every run of singleton work, written only while the lease (holder and epoch) is held.
CREATE TABLE singleton_runs (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    job VARCHAR(64) NOT NULL,
    node VARCHAR(64) NOT NULL,
    epoch BIGINT UNSIGNED NOT NULL,
    started_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6) NULL,
    KEY singleton_runs_job (job, started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The shared deferred queue: a message whose first attempt was deferred, with its envelope and
-- delivery progress (JSON) and its bytes (COMPRESS()ed), retried by whichever node is active.
CREATE TABLE deferred_messages (
    queue_id VARCHAR(18) NOT NULL PRIMARY KEY,
    envelope MEDIUMBLOB NOT NULL,
    progress BLOB NOT NULL,
    message LONGBLOB NOT NULL,
    next_attempt_at DATETIME(6) NOT NULL,
    from_node VARCHAR(64) NOT NULL,
    claimed_by VARCHAR(64) NULL,
    claimed_until DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    KEY deferred_messages_due (next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
