-- The records of `leash_store::Store` (the command line's and the MCP server's: keys as encrypted keystore
-- documents, accounts, sessions with their grant documents, lane leases, sent operations, an audit log), one
-- namespace per tenant, so that several machines share them.

CREATE TABLE store_keys (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    -- A Web3 Secret Storage document, byte for byte: the key encrypted under its password (scrypt, AES-128-CTR).
    document    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE store_accounts (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    record      JSONB NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE store_sessions (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    key_document TEXT NOT NULL,
    grant_document JSONB NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE store_leases (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id),
    account     BYTEA NOT NULL,
    lane        BIGINT NOT NULL,
    holder      TEXT NOT NULL,
    until       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, account, lane)
);

CREATE TABLE store_operations (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id),
    hash        BYTEA NOT NULL,
    sent_at     BIGINT NOT NULL,
    record      JSONB NOT NULL,
    PRIMARY KEY (tenant_id, hash)
);

CREATE TABLE store_audit (
    seq         BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id),
    event       JSONB NOT NULL
);
CREATE TRIGGER store_audit_append_only BEFORE UPDATE OR DELETE ON store_audit
    FOR EACH ROW EXECUTE FUNCTION audit_is_append_only();
CREATE TRIGGER store_audit_not_truncated BEFORE TRUNCATE ON store_audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only();
