package inference

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/hydrocast/hydrocast/evaluation"
)

// OutcomeLog appends labels to a JSON-lines file, one evaluation.Label a line, and
// syncs the file before each Append returns. It is safe for concurrent use, and logs
// of several processes may append to one file.
//
// Each append holds the file's lock (a file beside it) shared, and DeleteOutcomes
// holds it exclusively while it replaces the file; an append that finds the file
// replaced reopens it. So an athlete's labels can be deleted while servers keep
// appending, and no append is lost to the replacement.
type OutcomeLog struct {
	path string
	lock *flock.Flock
	mu   sync.Mutex
	f    *os.File // guarded by mu
}

// OpenOutcomeLog opens, creating it and its folder when needed, the labels file at
// path for appending.
func OpenOutcomeLog(path string) (*OutcomeLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open labels file: %w", err)
	}
	o := &OutcomeLog{path: path, lock: labelsLock(path)}
	if err := o.open(); err != nil {
		return nil, fmt.Errorf("open labels file: %w", err)
	}
	return o, nil
}

// open opens the file at o.path, syncing its folder when it was created, since a new
// file's name must survive a crash as well as its lines.
func (o *OutcomeLog) open() error {
	_, statErr := os.Stat(o.path)
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(filepath.Dir(o.path)); err != nil {
			f.Close()
			return err
		}
	}
	if o.f != nil {
		o.f.Close()
	}
	o.f = f
	return nil
}

// Append writes l as one line and syncs the file.
func (o *OutcomeLog) Append(l evaluation.Label) error {
	line, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("append label: %w", err)
	}
	line = append(line, '\n')

	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return errors.New("append label: the labels file is closed")
	}
	if err := o.lock.RLock(); err != nil {
		return fmt.Errorf("append label: lock labels file: %w", err)
	}
	defer o.lock.Unlock()
	if err := o.reopenIfReplaced(); err != nil {
		return fmt.Errorf("append label: %w", err)
	}
	if _, err := o.f.Write(line); err != nil {
		return fmt.Errorf("append label: %w", err)
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("append label: %w", err)
	}
	return nil
}

// reopenIfReplaced reopens the file when the name no longer leads to the open one.
func (o *OutcomeLog) reopenIfReplaced() error {
	open, err := o.f.Stat()
	if err != nil {
		return err
	}
	named, err := os.Stat(o.path)
	if err == nil && os.SameFile(open, named) {
		return nil
	}
	return o.open()
}

// Close closes the file.
func (o *OutcomeLog) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// labelsLock is the lock file beside a labels file.
func labelsLock(path string) *flock.Flock {
	return flock.New(path + ".lock")
}

// lockWait bounds how long DeleteOutcomes waits for appends in progress.
const lockWait = 10 * time.Second

// CountOutcomes returns how many labels of the athlete the labels file at path holds;
// a missing file holds none.
func CountOutcomes(path, athleteID string) (int, error) {
	n := 0
	err := scanOutcomes(path, func(_ []byte, id string) {
		if id == athleteID {
			n++
		}
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ExportOutcomes writes the athlete's labels from the labels file at path, as
// written, one a line, into the file out, which appears whole or not at all and only
// when there is at least one label. It returns how many it wrote.
func ExportOutcomes(path, athleteID, out string) (int, error) {
	var buf bytes.Buffer
	n := 0
	err := scanOutcomes(path, func(line []byte, id string) {
		if id == athleteID {
			buf.Write(line)
			buf.WriteByte('\n')
			n++
		}
	})
	if err != nil || n == 0 {
		return 0, err
	}
	if err := writeFileAtomic(out, buf.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("export labels: %w", err)
	}
	return n, nil
}

// DeleteOutcomes removes every label of the athlete from the labels file at path and
// returns how many it removed. The file is replaced whole (written beside it, synced,
// renamed over it), so a crash leaves either the old or the new file; other lines are
// kept byte for byte. It refuses, removing nothing, when a line is not a label (it
// cannot tell whose that line is). OutcomeLogs appending to the file meanwhile wait
// for it and then append to the new file.
func DeleteOutcomes(path, athleteID string) (int, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	lock := labelsLock(path)
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	ok, err := lock.TryLockContext(ctx, 10*time.Millisecond)
	if err == nil && !ok {
		err = fmt.Errorf("another process held it for %s", lockWait)
	}
	if err != nil {
		return 0, fmt.Errorf("lock labels file %s: %w", path, err)
	}
	defer lock.Unlock()

	var kept bytes.Buffer
	removed := 0
	err = scanOutcomes(path, func(line []byte, id string) {
		if id == athleteID {
			removed++
			return
		}
		kept.Write(line)
		kept.WriteByte('\n')
	})
	if err != nil || removed == 0 {
		return 0, err
	}
	info, err := os.Stat(path)
	if err == nil {
		err = writeFileAtomic(path, kept.Bytes(), info.Mode().Perm())
	}
	if err != nil {
		return 0, fmt.Errorf("delete labels from %s: %w", path, err)
	}
	return removed, nil
}

// scanOutcomes calls fn with every non-blank line of the labels file and the
// athlete it names. A missing file has no lines.
func scanOutcomes(path string, fn func(line []byte, athleteID string)) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read labels file: %w", err)
	}
	defer f.Close()

	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			if len(bytes.TrimSpace(line)) > 0 {
				var l struct {
					AthleteID *string `json:"athlete_id"`
				}
				if jerr := json.Unmarshal(line, &l); jerr != nil || l.AthleteID == nil {
					return fmt.Errorf("labels file %s line %d: not a label with an "+
						"athlete_id; fix or remove the line, then try again", path, n)
				}
				fn(line, *l.AthleteID)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read labels file: %w", err)
		}
	}
}

// writeFileAtomic writes data to a new file beside path, syncs it and renames it
// over path, then syncs the folder: after a crash path is either as it was or holds
// data.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Chmod(perm), tmp.Sync(), tmp.Close())
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}
