package bigquery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/training"
)

// fakeJobs serves the BigQuery REST jobs endpoints a query job uses: insert, the
// query-results wait and get. Every job is done at once, its result in resultTable.
type fakeJobs struct {
	mu      sync.Mutex
	queries []string
}

const resultTable = "anon_result"

func (f *fakeJobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/projects/proj/jobs"):
		var job struct {
			JobReference struct {
				JobID string `json:"jobId"`
			} `json:"jobReference"`
			Configuration struct {
				Query struct {
					Query string `json:"query"`
				} `json:"query"`
			} `json:"configuration"`
		}
		if err := json.NewDecoder(r.Body).Decode(&job); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.queries = append(f.queries, job.Configuration.Query.Query)
		f.mu.Unlock()
		writeJob(w, job.JobReference.JobID, job.Configuration.Query.Query)
	case r.Method == http.MethodGet && strings.Contains(path, "/projects/proj/queries/"):
		id := path[strings.LastIndex(path, "/")+1:]
		json.NewEncoder(w).Encode(map[string]any{"kind": "bigquery#getQueryResultsResponse",
			"jobComplete": true, "totalRows": "0", "schema": map[string]any{},
			"jobReference": map[string]any{"projectId": "proj", "jobId": id,
				"location": "EU"}})
	case r.Method == http.MethodGet && strings.Contains(path, "/projects/proj/jobs/"):
		writeJob(w, path[strings.LastIndex(path, "/")+1:], "")
	default:
		http.Error(w, "unexpected "+r.Method+" "+path, http.StatusNotFound)
	}
}

func writeJob(w http.ResponseWriter, id, query string) {
	json.NewEncoder(w).Encode(map[string]any{
		"kind":         "bigquery#job",
		"jobReference": map[string]any{"projectId": "proj", "jobId": id, "location": "EU"},
		"configuration": map[string]any{"query": map[string]any{"query": query,
			"destinationTable": map[string]any{"projectId": "proj", "datasetId": "_anon",
				"tableId": resultTable}}},
		"status": map[string]any{"state": "DONE"},
	})
}

// fakeRead implements the Storage Read API over fixed Arrow messages.
type fakeRead struct {
	storagepb.UnimplementedBigQueryReadServer
	schema  []byte
	batches [][]byte
	table   string // the table the last session was opened on
}

func (f *fakeRead) CreateReadSession(_ context.Context,
	req *storagepb.CreateReadSessionRequest) (*storagepb.ReadSession, error) {
	f.table = req.GetReadSession().GetTable()
	return &storagepb.ReadSession{
		Name:       "projects/proj/locations/eu/sessions/s1",
		DataFormat: storagepb.DataFormat_ARROW,
		Schema: &storagepb.ReadSession_ArrowSchema{ArrowSchema: &storagepb.ArrowSchema{
			SerializedSchema: f.schema}},
		Streams: []*storagepb.ReadStream{{Name: "projects/proj/locations/eu/sessions/s1/" +
			"streams/0"}},
	}, nil
}

func (f *fakeRead) ReadRows(_ *storagepb.ReadRowsRequest,
	stream storagepb.BigQueryRead_ReadRowsServer) error {
	for _, b := range f.batches {
		err := stream.Send(&storagepb.ReadRowsResponse{
			Rows: &storagepb.ReadRowsResponse_ArrowRecordBatch{
				ArrowRecordBatch: &storagepb.ArrowRecordBatch{SerializedRecordBatch: b}},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ipcMessages returns the schema message of recs' schema and one record-batch
// message per record, as the Storage Read API sends them.
func ipcMessages(t testing.TB, schema *arrow.Schema, recs []arrow.Record) ([]byte,
	[][]byte) {
	t.Helper()
	const eos = 8 // end-of-stream marker: continuation word and zero length
	stream := func(recs ...arrow.Record) []byte {
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	s := stream()
	head := s[:len(s)-eos]
	var batches [][]byte
	for _, r := range recs {
		b := stream(r)
		batches = append(batches, b[len(head):len(b)-eos])
	}
	return head, batches
}

// sweatRows returns a training set of n rows per batch for three athletes.
func sweatRows(t *testing.T, batches, n int) (*arrow.Schema, []arrow.Record) {
	fields := []arrow.Field{
		{Name: training.ColumnAthlete, Type: arrow.BinaryTypes.String},
		{Name: training.ColumnAsOf, Type: &arrow.TimestampType{Unit: arrow.Microsecond,
			TimeZone: "UTC"}},
		{Name: "heart_rate_bpm_mean_15m", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: models.OutSweatRate, Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}
	schema := arrow.NewSchema(fields, nil)
	t0 := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	var recs []arrow.Record
	for k := range batches {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := range n {
			row := k*n + i
			b.Field(0).(*array.StringBuilder).Append([]string{"a1", "a2", "a3"}[row%3])
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(
				t0.Add(time.Duration(row) * time.Minute).UnixMicro()))
			b.Field(2).(*array.Float64Builder).Append(120 + float64(row))
			b.Field(3).(*array.Float64Builder).Append(1 + float64(row)/100)
		}
		recs = append(recs, b.NewRecord())
		b.Release()
		t.Cleanup(recs[len(recs)-1].Release)
	}
	return schema, recs
}

// startFakes starts the jobs and Storage Read fakes and returns options pointing
// the real clients at them.
func startFakes(t *testing.T, read *fakeRead) (*fakeJobs, Options) {
	t.Helper()
	jobs := &fakeJobs{}
	web := httptest.NewServer(jobs)
	t.Cleanup(web.Close)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	storagepb.RegisterBigQueryReadServer(srv, read)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	return jobs, Options{Project: "proj", Dataset: "hydro", Features: "features",
		Labels: "labels",
		Client: []option.ClientOption{option.WithEndpoint(web.URL + "/"),
			option.WithoutAuthentication()},
		Read: []option.ClientOption{option.WithGRPCConn(conn)},
	}
}

func TestSourceStreamsArrowBatches(t *testing.T) {
	schema, recs := sweatRows(t, 3, 4)
	read := &fakeRead{}
	read.schema, read.batches = ipcMessages(t, schema, recs)
	jobs, o := startFakes(t, read)

	src, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var rows []float64
	for rec, err := range src.Records(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Schema().Equal(schema) {
			t.Fatalf("schema %v, want %v", rec.Schema(), schema)
		}
		rows = append(rows, rec.Column(2).(*array.Float64).Float64Values()...)
	}
	if len(rows) != 12 || rows[0] != 120 || rows[11] != 131 {
		t.Errorf("heart rates %v, want 120…131", rows)
	}
	if len(jobs.queries) != 1 || !strings.Contains(jobs.queries[0],
		"`proj.hydro.labels`") || !strings.Contains(jobs.queries[0], "QUALIFY") {
		t.Errorf("queries %q, want one point-in-time query", jobs.queries)
	}
	if read.table != "projects/proj/datasets/_anon/tables/"+resultTable {
		t.Errorf("read session on %q, want the query's result table", read.table)
	}

	first := src.Fingerprint()
	for _, err := range src.Records(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if src.Fingerprint() != first || len(first) != 64 {
		t.Errorf("fingerprints %s and %s of the same data", first, src.Fingerprint())
	}
	if len(jobs.queries) != 1 {
		t.Errorf("%d query jobs for two reads, want the first one's result read again",
			len(jobs.queries))
	}

	ds, err := training.DatasetsFromRecords(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Sweat == nil || ds.Sweat.Rows() != 12 || ds.Sweat.Y.At(11, 0) != 1.11 {
		t.Errorf("sweat dataset %+v, want the 12 rows streamed", ds.Sweat)
	}
}

func TestSourceStopsEarly(t *testing.T) {
	schema, recs := sweatRows(t, 3, 2)
	read := &fakeRead{}
	read.schema, read.batches = ipcMessages(t, schema, recs)
	_, o := startFakes(t, read)
	src, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for _, err := range src.Records(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if n != 1 {
		t.Errorf("%d batches after a break", n)
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, o := range []Options{
		{Project: "p", Dataset: "d", Features: "f"},
		{Project: "p", Dataset: "d`; DROP TABLE x; --", Features: "f", Labels: "l"},
		{Project: "p", Dataset: "d", Features: "f", Labels: "l", MaxStalenessMinutes: -1},
	} {
		if _, err := New(o); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: error %v, want ErrInvalid", o, err)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64}},
		nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Float64Builder).AppendValues([]float64{1, 2, 3}, nil)
	rec := b.NewRecord()
	head, batches := ipcMessages(f, schema, []arrow.Record{rec})
	f.Add(head, batches[0])
	f.Add(head, []byte{})
	f.Add([]byte{}, batches[0])
	f.Fuzz(func(t *testing.T, schema, batch []byte) {
		rec, err := decodeBatch(schema, batch)
		if err == nil {
			rec.Release()
		}
	})
}
