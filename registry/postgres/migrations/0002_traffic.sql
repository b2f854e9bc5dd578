-- Traffic policies: per model, weighted versions, an experiment salt and an optional
-- shadow version, with the history of every change; the same tables as SQLite's.

CREATE TABLE traffic_policies (
	model_id  bigint      PRIMARY KEY REFERENCES models (id),
	arms      jsonb       NOT NULL, -- []registry.TrafficArm sorted by version
	salt      text        NOT NULL,
	shadow    integer,              -- NULL without a shadow version
	principal text        NOT NULL,
	reason    text        NOT NULL,
	updated   timestamptz NOT NULL
);

-- Changes of one model are serialised by the lock on its models row, so within a
-- model the ids follow commit order.
CREATE TABLE traffic_history (
	id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	model_id  bigint      NOT NULL REFERENCES models (id),
	policy    jsonb,                -- registry.TrafficPolicy; NULL when cleared
	principal text        NOT NULL,
	reason    text        NOT NULL,
	changed   timestamptz NOT NULL
);

CREATE INDEX traffic_history_by_model ON traffic_history (model_id, id);
