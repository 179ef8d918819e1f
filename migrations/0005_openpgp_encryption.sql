-- OpenPGP encryption of forwarded mail (issue 8).

-- What happens to mail for a mailbox whose key can no longer be encrypted to (expired, revoked, no
-- encryption subkey): 'deliver' (unencrypted, with a warning at the top; encryption is turned off
-- for the mailbox and the owner told) or 'hold' (kept as a failed delivery, to send again once the
-- key is fixed).
ALTER TABLE users ADD COLUMN encryption_key_failure VARCHAR(8) NOT NULL DEFAULT 'deliver' AFTER dmarc_fail_warning;
