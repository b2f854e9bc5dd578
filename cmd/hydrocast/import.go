package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/wire"
)

type importFlags struct {
	client        clientFlags
	athlete       string
	athleteColumn string
	source        string
	sourceColumn  string
	format        string
	columns       string
	timeColumn    string
	timeFormat    string
	timeZone      string
	to            []string
	server        string
	batchSize     int
}

func newImportCommand(g *globals) *cobra.Command {
	f := &importFlags{}
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import workout and sensor files into the offline store or a running server",
		Long: `Import reads FIT files, TCX files, Empatica E4 export folders, and CSV or Parquet
tables, and writes their readings into the offline store (Parquet files under
<home>/offline/readings, partitioned by date), where training sets are built from, or
streams them to a running server's ingest API (--to server), or both.

The format is found from each file's content and name; --format forces one. A table
needs --map, naming the column of each signal (signal=column pairs, a column name with
a comma, equals sign, quote or edge spaces in double quotes), and --time-column with
its --time-format: rfc3339 (the default), unix, unix_ms or a Go layout such as
"2006-01-02 15:04:05" (read in --time-zone, UTC by default). Signals:
  ` + signalNames() + `

Every reading goes to the offline store as received: readings that fail validation
(a value outside its physical range, no signal) are kept there too, are skipped by
training, and are counted per athlete, source and field by
'hydrocast athlete quarantine'. The import prints what it rejected and why.

The offline store takes files while a server runs: writers never share a file.`,
		Example: `  hydrocast import run.fit ride.tcx --athlete a-17
  hydrocast import e4-export/ --athlete a-17 --to offline,server --server 127.0.0.1:8470
  hydrocast import log.csv --athlete a-17 \
    --map 'heart_rate_bpm=HR,ambient_temp_c="Amb. Temp."' \
    --time-column Time --time-format '2006-01-02 15:04:05' --time-zone Europe/Paris
  hydrocast import team.parquet --athlete-column athlete --map heart_rate_bpm=hr \
    --time-column ts`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd.Context(), g, f, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.athlete, "athlete", "", "athlete id of every reading (required unless "+
		"--athlete-column)")
	fl.StringVar(&f.athleteColumn, "athlete-column", "", "table column holding each "+
		"row's athlete id")
	fl.StringVar(&f.source, "source", "", "device id of the readings; default the "+
		"format's name (fit, tcx, e4, csv, parquet)")
	fl.StringVar(&f.sourceColumn, "source-column", "", "table column holding each row's "+
		"device id")
	fl.StringVar(&f.format, "format", "", "fit, tcx, e4, csv or parquet; default found "+
		"from each file")
	fl.StringVar(&f.columns, "map", "", "table columns of the signals: "+
		`heart_rate_bpm=HR,ambient_temp_c="Amb. Temp."`)
	fl.StringVar(&f.timeColumn, "time-column", "", "table column of the event time")
	fl.StringVar(&f.timeFormat, "time-format", "", "format of --time-column: rfc3339, "+
		"unix, unix_ms or a Go layout; default rfc3339")
	fl.StringVar(&f.timeZone, "time-zone", "", "IANA zone of times that carry none; "+
		"default UTC")
	fl.StringSliceVar(&f.to, "to", []string{"offline"}, "where the readings go: offline "+
		"(<home>/offline), server (--server), or both")
	f.client.register(fl)
	fl.StringVar(&f.server, "server", "127.0.0.1:8470", "address of the running server "+
		"for --to server")
	fl.IntVar(&f.batchSize, "batch", 500, "readings per ingest message for --to server")
	return cmd
}

// signalNames lists the signals a column map may name, a few to a line.
func signalNames() string {
	var b strings.Builder
	line := 0
	for s := range features.NumSignals {
		name := s.Name()
		if s > 0 {
			b.WriteString(",")
			line++
			if line+len(name) > 76 {
				b.WriteString("\n ")
				line = 1
			}
			b.WriteString(" ")
			line++
		}
		b.WriteString(name)
		line += len(name)
	}
	return b.String()
}

// importPlan is the checked flags.
type importPlan struct {
	format    importer.Format // empty: found per file
	table     importer.TableOptions
	isTable   bool // --map given: tables unless --format says otherwise
	toOffline bool
	toServer  bool
}

func (f *importFlags) plan() (*importPlan, error) {
	p := &importPlan{}
	for _, to := range f.to {
		switch strings.TrimSpace(to) {
		case "offline":
			p.toOffline = true
		case "server":
			p.toServer = true
		default:
			return nil, fmt.Errorf("--to %q: want offline, server or both", to)
		}
	}
	if !p.toOffline && !p.toServer {
		return nil, errors.New("--to: name offline, server or both")
	}
	if f.batchSize < 1 {
		return nil, fmt.Errorf("--batch %d: want 1 or more", f.batchSize)
	}
	switch importer.Format(f.format) {
	case "", importer.FormatFIT, importer.FormatTCX, importer.FormatE4,
		importer.FormatCSV, importer.FormatParquet:
		p.format = importer.Format(f.format)
	default:
		return nil, fmt.Errorf("--format %q: want fit, tcx, e4, csv or parquet", f.format)
	}
	if f.athlete == "" && f.athleteColumn == "" {
		return nil, errors.New("--athlete is required (or --athlete-column for a table)")
	}
	return p, f.tableOptions(p)
}

// tableOptions checks the table flags and fills p.table.
func (f *importFlags) tableOptions(p *importPlan) error {
	p.isTable = p.format == importer.FormatCSV || p.format == importer.FormatParquet ||
		(p.format == "" && f.columns != "")
	tableOnly := map[string]string{"--map": f.columns, "--time-column": f.timeColumn,
		"--time-format": f.timeFormat, "--time-zone": f.timeZone,
		"--athlete-column": f.athleteColumn, "--source-column": f.sourceColumn}
	if !p.isTable && p.format != "" {
		for _, name := range slices.Sorted(maps.Keys(tableOnly)) {
			if tableOnly[name] != "" {
				return fmt.Errorf("%s applies to csv and parquet tables, not --format %s",
					name, p.format)
			}
		}
		return nil
	}

	p.table = importer.TableOptions{
		Options:       importer.Options{AthleteID: f.athlete, Source: f.source},
		TimeColumn:    f.timeColumn,
		TimeFormat:    f.timeFormat,
		AthleteColumn: f.athleteColumn,
		SourceColumn:  f.sourceColumn,
	}
	if f.columns != "" {
		m, err := importer.ParseColumnMap(f.columns)
		if err != nil {
			return fmt.Errorf("--map: %w", err)
		}
		p.table.Columns = m
	}
	if f.timeZone != "" {
		loc, err := time.LoadLocation(f.timeZone)
		if err != nil {
			return fmt.Errorf("--time-zone %q: %w", f.timeZone, err)
		}
		p.table.Location = loc
	}
	if !p.isTable && f.athlete == "" {
		return errors.New("--athlete is required for fit, tcx and e4 files")
	}
	if p.isTable {
		switch {
		case f.columns == "":
			return errors.New("--map is required for a table: name the column of " +
				"each signal, e.g. --map heart_rate_bpm=HR")
		case f.timeColumn == "":
			return errors.New("--time-column is required for a table")
		}
	}
	return nil
}

// importTotals tallies an import.
type importTotals struct {
	files, readings, rejected int
	byField                   map[string]int    // rejected readings per field
	reasons                   map[string]string // the first reason per field
	server                    serverCounts
}

// serverCounts adds up the server's answers to the ingest streams.
type serverCounts struct {
	accepted, duplicates, late, rejected int64
}

// runImport reads every file before it writes anything, so that a file it cannot
// read stops the import with nothing written.
func runImport(ctx context.Context, g *globals, f *importFlags, paths []string,
	stdout, stderr io.Writer) error {
	p, err := f.plan()
	if err != nil {
		return err
	}
	tot := &importTotals{byField: map[string]int{}, reasons: map[string]string{}}
	results := make([][]features.Reading, len(paths))
	bar := newProgress(stderr, len(paths), "reading")
	for i, path := range paths {
		res, err := p.read(path, f)
		if err != nil {
			return err
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "warning: %s: %s\n", path, w)
		}
		tot.count(res.Readings)
		results[i] = res.Readings
		bar.set(i + 1)
	}
	bar.finish()

	sinks, err := openImportSinks(g, f, p)
	if err != nil {
		return err
	}
	defer sinks.close()
	bar = newProgress(stderr, tot.readings, "importing")
	done := 0
	for i, rs := range results {
		if err := sinks.write(ctx, rs, tot); err != nil {
			return fmt.Errorf("import %s: %w", paths[i], err)
		}
		tot.files++
		done += len(rs)
		bar.set(done)
	}
	bar.finish()
	if err := sinks.close(); err != nil {
		return err
	}
	tot.report(stdout, g, p)
	return nil
}

// read imports one file or folder in the plan's format.
func (p *importPlan) read(path string, f *importFlags) (importer.Result, error) {
	opt := importer.Options{AthleteID: f.athlete, Source: f.source}
	format := p.format
	if format == "" && !p.isTable {
		ext := strings.ToLower(filepath.Ext(path))
		if ext == ".csv" || ext == ".parquet" {
			return importer.Result{}, fmt.Errorf("%s: a table needs --map and "+
				"--time-column", path)
		}
		return importer.ImportFile(path, opt)
	}
	switch format {
	case "":
		return importer.ImportTable(path, p.table) // CSV or Parquet by content and name
	case importer.FormatE4:
		return importer.ReadE4(path, opt)
	}
	return p.decodeFile(path, format, opt)
}

// decodeFile reads a file with the decoder of the format given.
func (p *importPlan) decodeFile(path string, format importer.Format,
	opt importer.Options) (importer.Result, error) {
	file, err := os.Open(path)
	if err != nil {
		return importer.Result{}, fmt.Errorf("import %s: %w", path, err)
	}
	defer file.Close()
	var res importer.Result
	switch format {
	case importer.FormatFIT:
		res, err = importer.DecodeFIT(file, opt)
	case importer.FormatTCX:
		res, err = importer.DecodeTCX(file, opt)
	case importer.FormatCSV:
		res, err = importer.DecodeCSV(file, p.table)
	default:
		res, err = importer.DecodeParquet(file, p.table)
	}
	if err != nil {
		return importer.Result{}, fmt.Errorf("import %s: %w", path, err)
	}
	return res, nil
}

// count tallies the readings and the validation failures among them.
func (t *importTotals) count(rs []features.Reading) {
	t.readings += len(rs)
	for i := range rs {
		err := rs[i].Validate()
		if err == nil {
			continue
		}
		t.rejected++
		field, reason := "reading", err.Error()
		if ve, ok := errors.AsType[*features.ValidationError](err); ok {
			field, reason = ve.Field, ve.Reason
		}
		t.byField[field]++
		if _, seen := t.reasons[field]; !seen {
			t.reasons[field] = reason
		}
	}
}

func (t *importTotals) report(w io.Writer, g *globals, p *importPlan) {
	var dest []string
	if p.toOffline {
		dest = append(dest, "the offline store "+filepath.Join(g.home, "offline"))
	}
	if p.toServer {
		dest = append(dest, "the server")
	}
	fmt.Fprintf(w, "imported %d readings from %d %s into %s\n", t.readings, t.files,
		countNoun(t.files, "file", "files"), strings.Join(dest, " and "))
	if p.toServer {
		s := t.server
		fmt.Fprintf(w, "server: %d accepted, %d duplicates, %d late, %d rejected\n",
			s.accepted, s.duplicates, s.late, s.rejected)
	}
	if t.rejected == 0 {
		return
	}
	fmt.Fprintf(w, "%d %s failed validation (kept in the offline store, skipped by "+
		"training):\n", t.rejected, countNoun(t.rejected, "reading", "readings"))
	for _, field := range slices.Sorted(maps.Keys(t.byField)) {
		fmt.Fprintf(w, "  %s: %d, e.g. %s\n", field, t.byField[field], t.reasons[field])
	}
}

// importSinks are where an import writes.
type importSinks struct {
	store  *offline.Store
	server *remoteClient
	closed bool
}

func openImportSinks(g *globals, f *importFlags, p *importPlan) (*importSinks, error) {
	s := &importSinks{}
	if p.toOffline {
		store, err := offline.Open(filepath.Join(g.home, "offline"), nil)
		if err != nil {
			return nil, err
		}
		s.store = store
	}
	if p.toServer {
		conn, err := f.client.dial(f.server)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("--server %s: %w", f.server, err)
		}
		s.server = &remoteClient{conn: conn, api: hydrocastv1.NewHydrocastServiceClient(conn),
			batch: f.batchSize}
	}
	return s, nil
}

// write sends one file's readings to every sink.
func (s *importSinks) write(ctx context.Context, rs []features.Reading,
	t *importTotals) error {
	if s.store != nil {
		now := time.Now()
		rows := make([]offline.Row, len(rs))
		for i := range rs {
			rows[i] = offline.Row{Reading: rs[i], IngestTime: now}
		}
		if err := s.store.Append(ctx, rows...); err != nil {
			return err
		}
	}
	if s.server != nil {
		msgs := make([]*hydrocastv1.Reading, len(rs))
		for i := range rs {
			msgs[i] = wire.ToProto(&rs[i])
		}
		resp, err := s.server.ingest(ctx, msgs)
		if err != nil {
			return fmt.Errorf("ingest into %s: %w", s.server.conn.Target(), err)
		}
		t.server.accepted += resp.Accepted
		t.server.duplicates += resp.Duplicates
		t.server.late += resp.Late
		t.server.rejected += resp.Rejected
	}
	return nil
}

// close writes out the offline store's buffer and ends the server connection; it
// is safe to call twice.
func (s *importSinks) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("write offline store: %w", err))
		}
	}
	if s.server != nil {
		errs = append(errs, s.server.close())
	}
	return errors.Join(errs...)
}

// countNoun returns one or many as n asks.
func countNoun(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
