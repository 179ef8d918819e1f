-- Nodes keep the aliases they looked up at RCPT time for a few seconds (issue 10). Whatever changes
-- how mail is routed (the API's writes, an alias created on first receipt, encryption turned off)
-- adds one to this counter; every node reads it each second and forgets what it kept when it moved.
CREATE TABLE routing_changes (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    counter BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO routing_changes (id, counter) VALUES (1, 0);
