-- The service's state: tenants, their accounts and sessions, the operations sent, nonce-lane leases and the
-- audit log. Every secret column holds ciphertext or a hash: data keys wrapped by the key-encryption key,
-- session keys sealed by their tenant's data key, tokens as SHA-256 digests.

CREATE TABLE tenants (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    token_hash  BYTEA NOT NULL UNIQUE,
    -- The tenant's data key, wrapped by the key-encryption key named by kek_id.
    data_key    BYTEA NOT NULL,
    kek_id      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    address     BYTEA NOT NULL,
    owner       BYTEA NOT NULL,
    factory     BYTEA NOT NULL,
    salt        BYTEA NOT NULL,
    validators  JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Registering an address proves nothing (a session still needs its owner's signature), so two tenants may
    -- name the same account; its nonce lanes are the account's, shared (see `lanes`).
    UNIQUE (tenant_id, name)
);

CREATE TABLE sessions (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id),
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    name            TEXT NOT NULL,
    session_id      BYTEA NOT NULL,
    -- The packed session and its actions, as the grant document carries them.
    session         JSONB NOT NULL,
    -- The session key sealed by the tenant's data key, bound to (tenant, session); NULL once destroyed.
    sealed_key      BYTEA,
    agent_token_hash BYTEA NOT NULL UNIQUE,
    -- The grant the owner signed (a leash-session-grant document); NULL until then.
    grant_document  JSONB,
    -- pending (not signed yet), granted, revoked (here; the owner's on-chain revoke is separate).
    state           TEXT NOT NULL CHECK (state IN ('pending', 'granted', 'revoked')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE operations (
    hash            BYTEA PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id),
    session_id      BIGINT REFERENCES sessions (id),
    account         BYTEA NOT NULL,
    lane            BIGINT NOT NULL,
    nonce           NUMERIC(78, 0) NOT NULL,
    -- The caller's idempotency key: a retried request returns the operation it already made; the hash of the
    -- calls it made, so that the key reused for other calls is refused.
    request_id      TEXT,
    calls_hash      BYTEA NOT NULL,
    -- signed (recorded, maybe sent), sent (accepted by the bundler), landed, reverted, failed.
    state           TEXT NOT NULL CHECK (state IN ('signed', 'sent', 'landed', 'reverted', 'failed')),
    -- The signed UserOperation, so that an operation in doubt after a crash is settled with the same bytes.
    user_op         JSONB NOT NULL,
    transaction_hash BYTEA,
    error           TEXT,
    replica         TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One live operation per request id: a request whose operation failed (never sent) may be made again.
CREATE UNIQUE INDEX operations_one_per_request ON operations (session_id, request_id) WHERE state <> 'failed';
-- One nonce is used once: a second live operation for the same (account, nonce) is refused by the database. An
-- operation the bundler refused never used its nonce, so the next one on its lane takes it again.
CREATE UNIQUE INDEX operations_one_per_nonce ON operations (account, nonce) WHERE state <> 'failed';
CREATE INDEX operations_unsettled ON operations (state) WHERE state IN ('signed', 'sent');

-- Nonce-lane leases: a replica holds (account, lane) until `until`; an expired lease is free for the taking.
CREATE TABLE lanes (
    account     BYTEA NOT NULL,
    lane        BIGINT NOT NULL,
    holder      TEXT,
    until       TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    PRIMARY KEY (account, lane)
);

CREATE TABLE audit (
    seq         BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT REFERENCES tenants (id),
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Who: admin, tenant, or agent:<session>.
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    result      TEXT NOT NULL,
    detail      JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_tenant ON audit (tenant_id, seq);

-- The audit log is append-only: the database refuses to change or delete an entry.
CREATE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_is_append_only();
CREATE TRIGGER audit_not_truncated BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only();
