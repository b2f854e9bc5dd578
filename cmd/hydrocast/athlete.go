package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/auth/audit"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/redisstore"
	"github.com/hydrocast/hydrocast/features/wal"
	"github.com/hydrocast/hydrocast/inference"
)

// athleteStoresNote tells, in every athlete subcommand's help, what they work on.
const athleteStoresNote = `The athlete commands work on the stores in the state folder:
the offline store (<home>/offline), the write-ahead-logged online store of
'hydrocast serve' (<home>/wal, with its snapshots) and the labels its RecordOutcome
keeps (<home>/labels/labels.jsonl). Stop the server first: it holds
the online store, and these commands refuse to run while it does. A server using
--feature-store redis keeps its online features in Redis: name it with --redis-addr
and export and delete reach it too (the servers may keep running). A server with
--feature-store memory forgets an athlete only when it stops.`

func newAthleteCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "athlete",
		Short: "Export, delete or inspect one athlete's data in the feature stores",
		Long: `The athlete commands export everything the feature stores hold of one athlete,
delete it from all of them, or show the readings that failed validation.

` + athleteStoresNote,
	}
	cmd.PersistentFlags().StringVar(&athleteRedisAddr, "redis-addr", "", "also the Redis "+
		"feature store at this address, shared by servers with --feature-store redis")
	cmd.AddCommand(newAthleteExportCommand(g), newAthleteDeleteCommand(g),
		newAthleteQuarantineCommand(g))
	return cmd
}

// athleteRedisAddr is the athlete commands' --redis-addr.
var athleteRedisAddr string

// athleteStores are the stores of the state folder, opened for one command.
type athleteStores struct {
	offline *offline.Store
	online  *wal.Durable      // nil when <home>/wal does not exist
	redis   *redisstore.Store // nil without --redis-addr
	rdb     *redis.Client
	labels  string // the labels file RecordOutcome appends to, which may not exist
}

// openAthleteStores opens the offline store and, when it exists, the online store's
// log; it fails when a server holds the log.
func openAthleteStores(g *globals) (*athleteStores, error) {
	s := &athleteStores{labels: labelsPath(g.home)}
	walDir := filepath.Join(g.home, "wal")
	if _, err := os.Stat(walDir); err == nil {
		o := wal.DefaultOptions()
		o.SnapshotInterval = -1 // a short command: no snapshots on a timer
		d, err := wal.Open(walDir, &o)
		if errors.Is(err, wal.ErrLocked) {
			return nil, fmt.Errorf("the online store %s is in use, by 'hydrocast serve' "+
				"most likely: stop the server, then run this again", walDir)
		}
		if err != nil {
			return nil, fmt.Errorf("open the online store: %w", err)
		}
		s.online = d
	}
	if athleteRedisAddr != "" {
		s.rdb = redis.NewClient(&redis.Options{Addr: athleteRedisAddr,
			ContextTimeoutEnabled: true})
		rs, err := redisstore.New(s.rdb, nil)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("--redis-addr %s: %w", athleteRedisAddr, err)
		}
		s.redis = rs
	}
	off, err := offline.Open(filepath.Join(g.home, "offline"), nil)
	if err != nil {
		s.close()
		return nil, err
	}
	s.offline = off
	return s, nil
}

func (s *athleteStores) holdings() offline.Holdings {
	h := offline.Holdings{Offline: s.offline}
	switch {
	case s.online != nil:
		h.Online, h.WAL = s.online, s.online
	case s.redis != nil:
		h.Online = s.redis
	}
	return h
}

// deleteElsewhere deletes the athlete from Redis when holdings() did not cover it.
func (s *athleteStores) deleteElsewhere(ctx context.Context, id string) error {
	if s.redis == nil || s.online == nil {
		return nil
	}
	if err := s.redis.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete from Redis: %w", err)
	}
	return nil
}

// holds reports whether any store keeps something of the athlete: a reading in the
// offline store, a window in the online store, or a label RecordOutcome kept.
func (s *athleteStores) holds(ctx context.Context, id string) (bool, error) {
	if n, err := inference.CountOutcomes(s.labels, id); err != nil || n > 0 {
		return n > 0, err
	}
	var onlines []features.OnlineStore
	if s.online != nil {
		onlines = append(onlines, s.online)
	}
	if s.redis != nil {
		onlines = append(onlines, s.redis)
	}
	for _, online := range onlines {
		if _, err := online.Newest(ctx, id); err == nil {
			return true, nil
		}
	}
	for _, err := range s.offline.Rows(ctx, offline.Query{Athletes: []string{id}}) {
		if err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// auditData appends an export or a deletion to <home>/audit/data.jsonl, the
// hash-chained audit trail of what was done with athletes' data: who, when, what and
// how it ended. The athlete appears only as their pseudonym (the keyed hash serve's
// logs use), so that the trail of a deletion keeps no trace of whom it erased.
func auditData(home, event, id string, err error) error {
	p, perr := loadPseudonymizer(home, "")
	if perr != nil {
		return perr
	}
	l, aerr := audit.Open(filepath.Join(home, "audit", "data.jsonl"), audit.Options{})
	if errors.Is(aerr, os.ErrNotExist) {
		if aerr = os.MkdirAll(filepath.Join(home, "audit"), 0o700); aerr == nil {
			l, aerr = audit.Open(filepath.Join(home, "audit", "data.jsonl"), audit.Options{})
		}
	}
	if aerr != nil {
		return fmt.Errorf("audit %s: %w", event, aerr)
	}
	rec := audit.Record{Event: event, Principal: (&modelsFlags{}).principal(),
		Method:  "hydrocast athlete " + strings.TrimPrefix(event, "athlete."),
		Outcome: "ok", Reason: "athlete " + p.Pseudonymize(id)}
	if err != nil {
		rec.Outcome, rec.Reason = "failed", rec.Reason+": "+err.Error()
	}
	return errors.Join(l.Record(rec), l.Close())
}

// openHeldAthlete opens the stores and checks that one of them holds the athlete.
func openHeldAthlete(ctx context.Context, g *globals, id string) (*athleteStores, error) {
	stores, err := openAthleteStores(g)
	if err != nil {
		return nil, err
	}
	held, err := stores.holds(ctx, id)
	if err == nil && !held {
		err = errNothingHeld(id, g.home)
	}
	if err != nil {
		stores.close()
		return nil, err
	}
	return stores, nil
}

// errNothingHeld is the answer to an export or a deletion of an athlete of whom no
// store keeps anything: most often a mistyped id, which must not pass for done.
func errNothingHeld(id, home string) error {
	return fmt.Errorf("athlete %q: nothing held under %s (no readings offline, no "+
		"window online, no labels); check the id", id, home)
}

func (s *athleteStores) close() error {
	var errs []error
	if s.offline != nil {
		errs = append(errs, s.offline.Close())
	}
	if s.online != nil {
		errs = append(errs, s.online.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
		s.rdb = nil
	}
	return errors.Join(errs...)
}

func newAthleteExportCommand(g *globals) *cobra.Command {
	var out, format, asOf string
	cmd := &cobra.Command{
		Use:   "export ID --out DIR",
		Short: "Write everything the feature stores hold of an athlete into a folder",
		Long: `Export writes the athlete's readings from the offline store, in event-time
order, as readings.parquet (or readings.jsonl with --format jsonl), and their current
features from the online store as features.json: every feature with its unit, value,
status (present, missing, stale) and the schema version, and their labels (the
measured sweat rates RecordOutcome kept) as labels.jsonl when there are any. Files
appear whole or not at all.

` + athleteStoresNote,
		Example: `  hydrocast athlete export a-17 --out export/a-17
  hydrocast athlete export a-17 --out export/a-17 --format jsonl --as-of 2025-07-14T10:00:00Z`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAthleteExport(cmd.Context(), g, args[0], out, format, asOf,
				cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&out, "out", "", "folder to write into, created if needed (required)")
	fl.StringVar(&format, "format", "parquet", "readings file format: parquet or jsonl")
	fl.StringVar(&asOf, "as-of", "", "time of the exported features, RFC 3339; "+
		"default the athlete's newest reading")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func runAthleteExport(ctx context.Context, g *globals, id, out, format, asOfFlag string,
	stdout io.Writer) error {
	if f := offline.ExportFormat(format); f != offline.ExportParquet &&
		f != offline.ExportJSONLines {
		return fmt.Errorf("--format %q: want parquet or jsonl", format)
	}
	var asOf time.Time
	if asOfFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, asOfFlag)
		if err != nil {
			return fmt.Errorf("--as-of %q: want an RFC 3339 time such as "+
				"2025-07-14T10:00:00Z", asOfFlag)
		}
		asOf = t
	}
	stores, err := openHeldAthlete(ctx, g, id)
	if err != nil {
		return err
	}
	defer stores.close()

	if asOf.IsZero() {
		asOf = time.Now()
		if stores.online != nil {
			if t, err := stores.online.Newest(ctx, id); err == nil {
				asOf = t
			}
		}
	}
	sum, err := stores.holdings().Export(ctx, id, out, offline.ExportFormat(format), asOf)
	if aerr := auditData(g.home, "athlete.export", id, err); aerr != nil || err != nil {
		return errors.Join(err, aerr)
	}
	fmt.Fprintf(stdout, "exported %d readings of athlete %s to %s\n", sum.Readings, id,
		sum.ReadingsFile)
	if sum.FeaturesFile != "" {
		fmt.Fprintf(stdout, "features as of %s in %s\n", asOf.UTC().Format(time.RFC3339),
			sum.FeaturesFile)
	}
	labelsOut := filepath.Join(out, "labels.jsonl")
	n, err := inference.ExportOutcomes(stores.labels, id, labelsOut)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(stdout, "%d labels (measured sweat rates) in %s\n", n, labelsOut)
	}
	return stores.close()
}

func newAthleteDeleteCommand(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an athlete from the offline store, the online store and its log",
		Long: `Delete removes every reading of the athlete from the offline store's Parquet
files (rewriting the files that hold some), forgets their window, features and
quarantine counts in the online store, erases them from its write-ahead log and
snapshots, and removes their labels (measured sweat rates of their sessions), so
that no file under the state folder holds anything of them. It cannot be undone:
export first if the data is wanted.

It asks for confirmation on a terminal; elsewhere --yes is required.

` + athleteStoresNote,
		Example: `  hydrocast athlete delete a-17
  hydrocast athlete delete a-17 --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAthleteDelete(cmd.Context(), g, args[0], yes, cmd.InOrStdin(),
				cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "delete without asking")
	return cmd
}

func runAthleteDelete(ctx context.Context, g *globals, id string, yes bool, stdin io.Reader,
	stdout, stderr io.Writer) error {
	if id == "" {
		return errors.New("athlete id is empty")
	}
	if !yes {
		ok, err := confirm(stdin, stderr, fmt.Sprintf("Delete every reading and feature "+
			"of athlete %s under %s? This cannot be undone. [y/N] ", id, g.home))
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not deleted")
		}
	}
	stores, err := openHeldAthlete(ctx, g, id)
	if err != nil {
		return err
	}
	defer stores.close()

	labels, err := inference.DeleteOutcomes(stores.labels, id)
	err = errors.Join(err, stores.holdings().Delete(ctx, id), stores.deleteElsewhere(ctx, id))
	if aerr := auditData(g.home, "athlete.delete", id, err); aerr != nil || err != nil {
		if err != nil {
			err = fmt.Errorf("delete athlete %s (running it again completes it): %w", id, err)
		}
		return errors.Join(err, aerr)
	}
	if err := stores.close(); err != nil {
		return err
	}
	where := "the offline store"
	if stores.online != nil {
		where += ", the online store and its log"
	}
	if stores.redis != nil {
		where += ", Redis at " + athleteRedisAddr
	}
	fmt.Fprintf(stdout, "deleted athlete %s from %s under %s\n", id, where, g.home)
	if labels > 0 {
		fmt.Fprintf(stdout, "removed their %d labels from %s\n", labels, stores.labels)
	}
	return nil
}

// confirm asks a yes-or-no question on a terminal; off a terminal it fails, naming
// the flag that answers it.
func confirm(stdin io.Reader, stderr io.Writer, question string) (bool, error) {
	f, ok := stdin.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return false, errors.New("not on a terminal: pass --yes to delete without asking")
	}
	fmt.Fprint(stderr, question)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read answer: %w", err)
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}

func newAthleteQuarantineCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine [ID]",
		Short: "Count the readings that failed validation, per athlete, source and field",
		Long: `Quarantine lists the readings that failed validation, per athlete, source and
field at fault, with the latest reason and event time, for one athlete or all:

  online   rejected by the online store of 'hydrocast serve' (gRPC, Pub/Sub ingest)
  offline  kept in the offline store by 'hydrocast import', skipped by training

An "(overflow)" row counts rejections beyond the online store's capacity for
distinct athletes and sources.

` + athleteStoresNote,
		Example: `  hydrocast athlete quarantine
  hydrocast athlete quarantine a-17`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return runAthleteQuarantine(cmd.Context(), g, id, cmd.OutOrStdout())
		},
	}
	return cmd
}

// quarantineRow is one line of the quarantine table.
type quarantineRow struct {
	store string
	features.QuarantineEntry
}

func runAthleteQuarantine(ctx context.Context, g *globals, id string, stdout io.Writer) error {
	stores, err := openAthleteStores(g)
	if err != nil {
		return err
	}
	defer stores.close()

	var rows []quarantineRow
	if stores.online != nil {
		q, err := stores.online.Quarantine(ctx)
		if err != nil {
			return err
		}
		for _, e := range q {
			if id == "" || e.AthleteID == id || e.Overflow {
				rows = append(rows, quarantineRow{"online", e})
			}
		}
	}
	off, err := offlineQuarantine(ctx, stores.offline, id)
	if err != nil {
		return err
	}
	rows = append(rows, off...)

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "store\tathlete\tsource\tfield\tcount\tlatest reading\tlatest reason")
	for _, r := range rows {
		athlete := r.AthleteID
		if r.Overflow {
			athlete = "(overflow)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.store, athlete, r.Source,
			r.Field, r.Count, r.LastTime.UTC().Format(time.RFC3339), r.LastReason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "no readings failed validation")
	}
	return nil
}

// offlineQuarantine counts the offline store's readings that fail validation, per
// athlete, source and field, for one athlete or all.
func offlineQuarantine(ctx context.Context, s *offline.Store, id string) ([]quarantineRow,
	error) {
	type key struct{ athlete, source, field string }
	counts := map[key]*features.QuarantineEntry{}
	var q offline.Query
	if id != "" {
		q.Athletes = []string{id}
	}
	for r, err := range s.Rows(ctx, q) {
		if err != nil {
			return nil, fmt.Errorf("read offline store: %w", err)
		}
		verr := r.Validate()
		if verr == nil {
			continue
		}
		field, reason := "reading", verr.Error()
		if ve, ok := errors.AsType[*features.ValidationError](verr); ok {
			field, reason = ve.Field, ve.Reason
		}
		k := key{r.AthleteID, r.Source, field}
		e := counts[k]
		if e == nil {
			e = &features.QuarantineEntry{AthleteID: r.AthleteID, Source: r.Source,
				Field: field}
			counts[k] = e
		}
		e.Count++
		if !r.Time.Before(e.LastTime) {
			e.LastTime, e.LastReason = r.Time, reason
		}
	}
	rows := make([]quarantineRow, 0, len(counts))
	for _, e := range counts {
		rows = append(rows, quarantineRow{"offline", *e})
	}
	slices.SortFunc(rows, func(a, b quarantineRow) int {
		return cmp.Or(cmp.Compare(a.AthleteID, b.AthleteID), cmp.Compare(a.Source, b.Source),
			cmp.Compare(a.Field, b.Field))
	})
	return rows, nil
}
