-- Traffic policies: per model, weighted versions, an experiment salt and an optional
-- shadow version, with the history of every change. Times are Unix microseconds.

CREATE TABLE traffic_policies (
	model_id   INTEGER PRIMARY KEY REFERENCES models (id),
	arms       TEXT    NOT NULL, -- JSON, []registry.TrafficArm sorted by version
	salt       TEXT    NOT NULL,
	shadow     INTEGER,          -- NULL without a shadow version
	principal  TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	updated_us INTEGER NOT NULL
);

CREATE TABLE traffic_history (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	model_id   INTEGER NOT NULL REFERENCES models (id),
	policy     TEXT,             -- JSON, registry.TrafficPolicy; NULL when cleared
	principal  TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	changed_us INTEGER NOT NULL
);

CREATE INDEX traffic_history_by_model ON traffic_history (model_id, id);
