-- The registry's first schema. Times are Unix microseconds (UTC).

CREATE TABLE models (
	id          INTEGER PRIMARY KEY,
	name        TEXT    NOT NULL UNIQUE,
	description TEXT    NOT NULL DEFAULT '',
	created_us  INTEGER NOT NULL
);

CREATE TABLE versions (
	model_id          INTEGER NOT NULL REFERENCES models (id),
	number            INTEGER NOT NULL CHECK (number > 0),
	status            TEXT    NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
	status_reason     TEXT    NOT NULL DEFAULT '',
	description       TEXT    NOT NULL DEFAULT '',
	signature         TEXT    NOT NULL, -- JSON, registry.Signature
	card_markdown     TEXT    NOT NULL DEFAULT '',
	card_document     TEXT,             -- JSON or NULL
	run_id            TEXT    NOT NULL DEFAULT '',
	data_fingerprint  TEXT    NOT NULL DEFAULT '',
	code_version      TEXT    NOT NULL DEFAULT '',
	seed              INTEGER NOT NULL DEFAULT 0,
	generator         TEXT    NOT NULL DEFAULT '',
	artifact_sha256   TEXT    NOT NULL CHECK (length(artifact_sha256) = 64),
	artifact_bytes    INTEGER NOT NULL CHECK (artifact_bytes >= 0),
	reference_profile BLOB,             -- JSON or NULL
	created_us        INTEGER NOT NULL,
	PRIMARY KEY (model_id, number)
) WITHOUT ROWID;

CREATE INDEX versions_by_artifact ON versions (artifact_sha256);

CREATE TABLE version_tags (
	model_id INTEGER NOT NULL,
	number   INTEGER NOT NULL,
	key      TEXT    NOT NULL,
	value    TEXT    NOT NULL,
	PRIMARY KEY (model_id, number, key),
	FOREIGN KEY (model_id, number) REFERENCES versions (model_id, number)
) WITHOUT ROWID;

CREATE TABLE version_metrics (
	model_id INTEGER NOT NULL,
	number   INTEGER NOT NULL,
	name     TEXT    NOT NULL,
	value    REAL    NOT NULL,
	PRIMARY KEY (model_id, number, name),
	FOREIGN KEY (model_id, number) REFERENCES versions (model_id, number)
) WITHOUT ROWID;

CREATE TABLE aliases (
	model_id   INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	number     INTEGER NOT NULL,
	updated_us INTEGER NOT NULL,
	PRIMARY KEY (model_id, name),
	FOREIGN KEY (model_id, number) REFERENCES versions (model_id, number)
) WITHOUT ROWID;

CREATE TABLE alias_history (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	model_id    INTEGER NOT NULL,
	alias       TEXT    NOT NULL,
	from_number INTEGER,          -- NULL when the move created the alias
	to_number   INTEGER NOT NULL,
	principal   TEXT    NOT NULL,
	reason      TEXT    NOT NULL DEFAULT '',
	rollback    INTEGER NOT NULL DEFAULT 0 CHECK (rollback IN (0, 1)),
	moved_us    INTEGER NOT NULL,
	FOREIGN KEY (model_id, to_number) REFERENCES versions (model_id, number)
);

CREATE INDEX alias_history_by_alias ON alias_history (model_id, alias, id);

-- AUTOINCREMENT keeps ids from ever being reused, so the highest id is a revision
-- number that only grows.
CREATE TABLE audit (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	at_us     INTEGER NOT NULL,
	principal TEXT    NOT NULL,
	action    TEXT    NOT NULL,
	model     TEXT    NOT NULL,
	version   INTEGER,
	alias     TEXT,
	detail    TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX audit_by_model ON audit (model, id);
