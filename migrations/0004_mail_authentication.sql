-- Mail authentication (issue 7).

-- The value a user publishes in a TXT record at a custom domain to prove they own it
-- (`postern-verify=…`), made when the domain is added.
ALTER TABLE domains ADD COLUMN verification_token CHAR(40) NULL AFTER default_recipient_id;
UPDATE domains SET verification_token = SHA1(CONCAT(id, RAND(), NOW(6))) WHERE verification_token IS NULL;

-- What forwarded mail that fails DMARC, where the author's domain asks for quarantine or reject,
-- carries as a warning: 'subject' (a "[DMARC FAIL]" prefix), 'banner' (a warning at the top of the
-- text), or 'off'.
ALTER TABLE users ADD COLUMN dmarc_fail_warning VARCHAR(8) NOT NULL DEFAULT 'subject' AFTER banner_location;
