// Package bigquery reads hydrocast training sets from BigQuery: a point-in-time
// query in BigQuery SQL joins each label to the feature row serving had for its
// athlete at its instant, and the result comes back through the BigQuery Storage
// Read API as Arrow record batches, one batch in memory at a time. A *Source is a
// training.RecordSource.
package bigquery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"regexp"

	bq "cloud.google.com/go/bigquery"
	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"google.golang.org/api/option"
)

// ErrInvalid means the options name no table or carry an unusable identifier.
var ErrInvalid = errors.New("bigquery source: invalid options")

// Options say where the training set comes from.
type Options struct {
	// Project is the Google Cloud project that runs the query and owns the read
	// session. Required.
	Project string
	// Dataset holds the tables. Required.
	Dataset string
	// Features is the table of feature rows (features.ArrowSchema's columns:
	// athlete_id, as_of and one column per feature). Required.
	Features string
	// Labels is the table of labels: athlete_id, as_of, optional session_id and
	// the label columns (see training.LabelFault and friends). Required.
	Labels string
	// MaxStalenessMinutes bounds how old a feature row may be at a label's instant;
	// zero means 5, the serving store's idle limit.
	MaxStalenessMinutes int

	// Client and Read are passed to the BigQuery client (jobs API) and to the
	// Storage Read client, for example option.WithEndpoint in tests.
	Client, Read []option.ClientOption
}

// identifier is what a project, dataset or table name may hold here; anything else
// could change the query's meaning.
var identifier = regexp.MustCompile(`^[A-Za-z0-9_-]{1,1000}$`)

func (o Options) check() error {
	for _, f := range []struct{ name, v string }{{"project", o.Project},
		{"dataset", o.Dataset}, {"features table", o.Features}, {"labels table", o.Labels}} {
		if !identifier.MatchString(f.v) {
			return fmt.Errorf("%w: %s %q: want letters, digits, _ or -", ErrInvalid, f.name,
				f.v)
		}
	}
	if o.MaxStalenessMinutes < 0 {
		return fmt.Errorf("%w: max staleness %d minutes", ErrInvalid, o.MaxStalenessMinutes)
	}
	return nil
}

// PointInTimeSQL returns the training-set query: every label row with the latest
// feature row of its athlete at or before its instant, no older than the staleness
// bound, ordered by athlete and time so that a rerun streams the same rows.
func PointInTimeSQL(o Options) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	stale := o.MaxStalenessMinutes
	if stale == 0 {
		stale = 5
	}
	table := func(t string) string { return fmt.Sprintf("`%s.%s.%s`", o.Project, o.Dataset, t) }
	return fmt.Sprintf(`SELECT l.*, f.* EXCEPT (athlete_id, as_of)
FROM %s AS l
JOIN %s AS f
  ON f.athlete_id = l.athlete_id
 AND f.as_of <= l.as_of
 AND f.as_of > TIMESTAMP_SUB(l.as_of, INTERVAL %d MINUTE)
QUALIFY ROW_NUMBER() OVER (PARTITION BY l.athlete_id, l.as_of ORDER BY f.as_of DESC) = 1
ORDER BY l.athlete_id, l.as_of`, table(o.Labels), table(o.Features), stale), nil
}

// Source runs the point-in-time query and streams its result.
type Source struct {
	opts Options
	sum  hash.Hash
	rc   *storage.BigQueryReadClient // opened by the first read, closed by Close
	// result is the query's result table, kept after the first read so that later
	// passes (a streamed training run reads the set several times) read the same
	// rows without paying for the query again.
	result *bq.Table
}

// Close closes the Storage Read client, and with it a connection passed in
// Options.Read.
func (s *Source) Close() error {
	if s.rc == nil {
		return nil
	}
	return s.rc.Close()
}

// New returns a source for o; nothing is contacted until Records. The caller
// closes it.
func New(o Options) (*Source, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return &Source{opts: o, sum: sha256.New()}, nil
}

// Fingerprint returns the SHA-256, in lowercase hex, of the query and of every
// Arrow message streamed so far: after a full read, it identifies the data.
func (s *Source) Fingerprint() string { return hex.EncodeToString(s.sum.Sum(nil)) }

// Records runs the query (on the first call only), waits for it, opens a read
// session on its result table with one stream (to keep the query's order) and
// yields each Arrow record batch; a batch is released when yield returns. Every
// call streams the same rows in the same order.
func (s *Source) Records(ctx context.Context) iter.Seq2[arrow.Record, error] {
	return func(yield func(arrow.Record, error) bool) {
		if err := s.read(ctx, yield); err != nil {
			yield(nil, err)
		}
	}
}

// errStopped means the consumer stopped early; it is not reported.
var errStopped = errors.New("stopped")

func (s *Source) read(ctx context.Context, yield func(arrow.Record, error) bool) error {
	sql, err := PointInTimeSQL(s.opts)
	if err != nil {
		return err
	}
	s.sum.Reset()
	s.sum.Write([]byte(sql))
	if s.result == nil {
		if s.result, err = s.runQuery(ctx, sql); err != nil {
			return err
		}
	}
	table := s.result

	if s.rc == nil {
		if s.rc, err = storage.NewBigQueryReadClient(ctx, s.opts.Read...); err != nil {
			return fmt.Errorf("bigquery storage client: %w", err)
		}
	}
	session, err := s.rc.CreateReadSession(ctx, &storagepb.CreateReadSessionRequest{
		Parent: "projects/" + s.opts.Project,
		ReadSession: &storagepb.ReadSession{
			Table: fmt.Sprintf("projects/%s/datasets/%s/tables/%s", table.ProjectID,
				table.DatasetID, table.TableID),
			DataFormat: storagepb.DataFormat_ARROW,
		},
		MaxStreamCount: 1,
	})
	if err != nil {
		return fmt.Errorf("create read session: %w", err)
	}
	schema := session.GetArrowSchema().GetSerializedSchema()
	if len(schema) == 0 {
		return errors.New("read session has no Arrow schema")
	}
	s.sum.Write(schema)
	for _, st := range session.GetStreams() {
		err := s.readStream(ctx, s.rc, st.GetName(), schema, yield)
		if errors.Is(err, errStopped) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// runQuery runs sql as a query job and returns the table holding its result.
func (s *Source) runQuery(ctx context.Context, sql string) (*bq.Table, error) {
	client, err := bq.NewClient(ctx, s.opts.Project, s.opts.Client...)
	if err != nil {
		return nil, fmt.Errorf("bigquery client: %w", err)
	}
	defer client.Close()
	job, err := client.Query(sql).Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("run point-in-time query: %w", err)
	}
	status, err := job.Wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait for query job %s: %w", job.ID(), err)
	}
	if err := status.Err(); err != nil {
		return nil, fmt.Errorf("query job %s: %w", job.ID(), err)
	}
	cfg, err := job.Config()
	if err != nil {
		return nil, fmt.Errorf("query job %s: %w", job.ID(), err)
	}
	qc, ok := cfg.(*bq.QueryConfig)
	if !ok || qc.Dst == nil {
		return nil, fmt.Errorf("query job %s names no result table", job.ID())
	}
	return qc.Dst, nil
}

// readStream reads one stream's batches, decoding each with the session's schema.
func (s *Source) readStream(ctx context.Context, rc *storage.BigQueryReadClient,
	stream string, schema []byte, yield func(arrow.Record, error) bool) error {
	rows, err := rc.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: stream})
	if err != nil {
		return fmt.Errorf("read stream %s: %w", stream, err)
	}
	for {
		resp, err := rows.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read stream %s: %w", stream, err)
		}
		batch := resp.GetArrowRecordBatch().GetSerializedRecordBatch()
		if len(batch) == 0 {
			continue
		}
		s.sum.Write(batch)
		rec, err := decodeBatch(schema, batch)
		if err != nil {
			return fmt.Errorf("read stream %s: %w", stream, err)
		}
		more := yield(rec, nil)
		rec.Release()
		if !more {
			return errStopped
		}
	}
}

// decodeBatch decodes one serialized record batch with its serialized schema, both
// Arrow IPC messages as the Storage Read API sends them. Arrow's reader can panic on
// a damaged message; that comes back as an error.
func decodeBatch(schema, batch []byte) (rec arrow.Record, err error) {
	defer func() {
		if p := recover(); p != nil {
			rec, err = nil, fmt.Errorf("decode Arrow batch: damaged message (%v)", p)
		}
	}()
	if err := checkMessage(schema); err != nil {
		return nil, fmt.Errorf("decode Arrow schema: %w", err)
	}
	if err := checkMessage(batch); err != nil {
		return nil, fmt.Errorf("decode Arrow batch: %w", err)
	}
	r, err := ipc.NewReader(io.MultiReader(bytes.NewReader(schema), bytes.NewReader(batch)),
		ipc.WithAllocator(batchAllocator(len(schema)+len(batch))))
	if err != nil {
		return nil, fmt.Errorf("decode Arrow schema: %w", err)
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("decode Arrow batch: %w", err)
		}
		return nil, errors.New("decode Arrow batch: no record")
	}
	rec = r.Record()
	rec.Retain()
	return rec, nil
}
