-- The registry's first schema on PostgreSQL, the same tables as the SQLite engine's.

CREATE TABLE models (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text        NOT NULL UNIQUE,
	description text        NOT NULL DEFAULT '',
	created     timestamptz NOT NULL
);

-- Documents that clients read back byte for byte are json, which keeps their text;
-- jsonb would reorder their keys.
CREATE TABLE versions (
	model_id          bigint      NOT NULL REFERENCES models (id),
	number            integer     NOT NULL CHECK (number > 0),
	status            text        NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
	status_reason     text        NOT NULL DEFAULT '',
	description       text        NOT NULL DEFAULT '',
	signature         jsonb       NOT NULL, -- registry.Signature
	card_markdown     text        NOT NULL DEFAULT '',
	card_document     json,
	run_id            text        NOT NULL DEFAULT '',
	data_fingerprint  text        NOT NULL DEFAULT '',
	code_version      text        NOT NULL DEFAULT '',
	seed              bigint      NOT NULL DEFAULT 0,
	generator         text        NOT NULL DEFAULT '',
	artifact_sha256   text        NOT NULL CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
	artifact_bytes    bigint      NOT NULL CHECK (artifact_bytes >= 0),
	reference_profile json,
	created           timestamptz NOT NULL,
	PRIMARY KEY (model_id, number)
);

CREATE INDEX versions_by_artifact ON versions (artifact_sha256);

CREATE TABLE version_tags (
	model_id bigint  NOT NULL,
	number   integer NOT NULL,
	key      text    NOT NULL,
	value    text    NOT NULL,
	PRIMARY KEY (model_id, number, key),
	FOREIGN KEY (model_id, number) REFERENCES versions (model_id, number)
);

CREATE TABLE version_metrics (
	model_id bigint           NOT NULL,
	number   integer          NOT NULL,
	name     text             NOT NULL,
	value    double precision NOT NULL,
	PRIMARY KEY (model_id, number, name),
	FOREIGN KEY (model_id, number) REFERENCES versions (model_id, number)
);

CREATE TABLE aliases (
	model_id bigint      NOT NULL,
	name     text        NOT NULL,
	number   integer     NOT NULL,
	updated  timestamptz NOT NULL,
	PRIMARY KEY (model_id, name),
	FOREIGN KEY (model_id, number) REFERENCES versions (model_id, number)
);

-- Moves of one model are serialised by the lock on its models row, so within a
-- model the ids follow commit order.
CREATE TABLE alias_history (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	model_id    bigint      NOT NULL,
	alias       text        NOT NULL,
	from_number integer,    -- NULL when the move created the alias
	to_number   integer     NOT NULL,
	principal   text        NOT NULL,
	reason      text        NOT NULL DEFAULT '',
	rollback    boolean     NOT NULL DEFAULT false,
	moved       timestamptz NOT NULL,
	FOREIGN KEY (model_id, to_number) REFERENCES versions (model_id, number)
);

CREATE INDEX alias_history_by_alias ON alias_history (model_id, alias, id);

-- One row counts committed changes. A sequence would not do: its numbers are
-- handed out at insert, not at commit, so a poller could see revision 7 committed
-- before revision 6 and never learn of 6. Incrementing this row locks it until
-- commit, so revisions become visible in order and a rolled-back change uses none.
CREATE TABLE revision (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	value     bigint  NOT NULL
);

INSERT INTO revision (singleton, value) VALUES (true, 0);

CREATE TABLE audit (
	revision  bigint      PRIMARY KEY,
	at        timestamptz NOT NULL,
	principal text        NOT NULL,
	action    text        NOT NULL,
	model     text        NOT NULL,
	version   integer,
	alias     text,
	detail    text        NOT NULL DEFAULT ''
);

CREATE INDEX audit_by_model ON audit (model, revision);
