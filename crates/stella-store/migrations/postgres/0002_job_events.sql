-- When the job's `scan.completed`/`scan.failed` event went out: a redelivered message of a
-- finished job publishes it only while this is NULL, so consumers see one event per job
-- (bar a worker dying between publishing and recording it).
ALTER TABLE scan_jobs ADD COLUMN event_published_at TIMESTAMPTZ;
-- The worker's sweeper looks for jobs the bus may have lost: queued for long, or running under
-- a lease long expired. Across tenants, so not covered by the tenant-first indexes.
CREATE INDEX scan_jobs_unfinished ON scan_jobs (status, created_at)
    WHERE status IN ('queued', 'running');
