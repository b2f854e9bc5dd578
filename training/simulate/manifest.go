package simulate

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Names of the files of a cohort folder (slash-separated, relative to it).
const (
	manifestFile = "manifest.json"
	athletesFile = "athletes.parquet"
	sessionsFile = "sessions.parquet"
	faultsFile   = "faults.parquet"
	readingsDir  = "readings"
	fitDir       = "fit"
)

// Manifest describes a generated cohort; Run writes it last, as manifest.json, so a
// folder without one holds an unfinished cohort. It records no paths of the machine
// and no clock time, so that the same options give the same bytes anywhere.
type Manifest struct {
	GeneratorVersion string          `json:"generator_version"`
	Seed             uint64          `json:"seed"`
	Options          ManifestOptions `json:"options"`
	Counts           Counts          `json:"counts"`
	Files            []File          `json:"files"` // sorted by path; the manifest excluded
}

// ManifestOptions are the options that shape a cohort's contents; the output folder
// and the number of workers do not, and are left out.
type ManifestOptions struct {
	Athletes           int     `json:"athletes"`
	SessionsPerAthlete int     `json:"sessions_per_athlete"`
	Start              string  `json:"start"` // YYYY-MM-DD
	Days               int     `json:"days"`
	FaultsPerHour      float64 `json:"faults_per_hour"`
	FITSessions        int     `json:"fit_sessions"`
}

// Counts sizes a cohort.
type Counts struct {
	Athletes int `json:"athletes"`
	Sessions int `json:"sessions"`
	Readings int `json:"readings"`
	Faults   int `json:"faults"`
	FITFiles int `json:"fit_files"`
}

// File is one output file with its size and SHA-256 checksum.
type File struct {
	Path   string `json:"path"` // slash-separated, relative to the cohort folder
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // lowercase hex
}

func manifestOptions(o Options) ManifestOptions {
	return ManifestOptions{
		Athletes: o.Athletes, SessionsPerAthlete: o.SessionsPerAthlete,
		Start: o.Start.Format("2006-01-02"), Days: o.Days,
		FaultsPerHour: o.FaultsPerHour, FITSessions: o.FITSessions,
	}
}

// outDir creates the files of a cohort folder and notes their sizes and checksums.
type outDir struct {
	root  string
	files []File
}

// prepareOut creates the folder root, or checks that it is empty.
func prepareOut(root string) (*outDir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create output folder: %w", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read output folder: %w", err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("%w: %d entries", ErrOutNotEmpty, len(entries))
	}
	return &outDir{root: root}, nil
}

// create writes the file at rel (slash-separated) with write and records it.
func (o *outDir) create(rel string, write func(w io.Writer) error) error {
	path := filepath.Join(o.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", rel, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", rel, err)
	}
	defer f.Close()

	sum, counter := sha256.New(), &countingWriter{}
	buf := bufio.NewWriterSize(io.MultiWriter(f, sum, counter), 1<<16)
	if err := write(buf); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", rel, err)
	}
	o.files = append(o.files, File{Path: rel, Bytes: counter.n,
		SHA256: hex.EncodeToString(sum.Sum(nil))})
	return nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// writeManifest writes manifest.json listing every file created so far.
func (o *outDir) writeManifest(m *Manifest) error {
	m.Files = slices.Clone(o.files)
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	path := filepath.Join(o.root, manifestFile)
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}
