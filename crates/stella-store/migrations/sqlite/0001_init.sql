-- Same shape as the PostgreSQL schema; times are fixed-width RFC 3339 UTC text (microseconds),
-- which sorts the same as the instant, and JSON is text.
-- Scanner persistence. Every row carries its tenant and every key starts with it, so a query
-- that forgets the tenant cannot use an index and stands out in review.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

CREATE TABLE oauth_clients (
    client_id    TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL REFERENCES tenants (id),
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE scan_jobs (
    tenant           TEXT NOT NULL REFERENCES tenants (id),
    id               TEXT NOT NULL,
    image            TEXT NOT NULL,
    sbom_format      TEXT NOT NULL,
    idempotency_key  TEXT,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    worker           TEXT,
    lease_until      TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    summary          TEXT,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX scan_jobs_idempotency ON scan_jobs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX scan_jobs_page ON scan_jobs (tenant, created_at DESC, id DESC);

CREATE TABLE sbom_documents (
    tenant      TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    format      TEXT NOT NULL,
    blob_key    TEXT NOT NULL,
    digest      TEXT NOT NULL,
    PRIMARY KEY (tenant, job_id, format),
    FOREIGN KEY (tenant, job_id) REFERENCES scan_jobs (tenant, id)
);

CREATE TABLE packages (
    tenant    TEXT NOT NULL,
    job_id    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    purl      TEXT NOT NULL,
    name      TEXT NOT NULL,
    version   TEXT NOT NULL,
    payload   TEXT NOT NULL,
    PRIMARY KEY (tenant, job_id, seq),
    FOREIGN KEY (tenant, job_id) REFERENCES scan_jobs (tenant, id)
);

CREATE TABLE findings (
    tenant       TEXT NOT NULL,
    job_id       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    advisory_id  TEXT NOT NULL,
    purl         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    payload      TEXT NOT NULL,
    PRIMARY KEY (tenant, job_id, seq),
    FOREIGN KEY (tenant, job_id) REFERENCES scan_jobs (tenant, id)
);
