-- State store of a CommandHandler process: aggregate snapshots, processed-command markers and
-- the transactional outbox (see runtime::postgres).

CREATE TABLE aggregate_snapshots (
    tenant_id      text        NOT NULL,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    state          jsonb       NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, aggregate_type, aggregate_id)
);

CREATE TABLE processed_commands (
    command_id   uuid        PRIMARY KEY,
    outcome      jsonb       NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX processed_commands_processed_at ON processed_commands (processed_at);

CREATE TABLE outbox (
    id             bigserial   PRIMARY KEY,
    tenant_id      text        NOT NULL,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    destination    text        NOT NULL CHECK (destination IN ('event', 'outcome')),
    context        text        NOT NULL,
    message_id     uuid        NOT NULL,
    envelope       jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    -- Set when the broker refused the row for good (unroutable, unencodable): the row is
    -- marked published so that it does not block its aggregate, and kept for inspection.
    publish_error  text
);

-- The relay scans unpublished rows in id order; retention deletes old published rows.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
