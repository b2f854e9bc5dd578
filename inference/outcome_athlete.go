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
	f, err := os.OpenFile(o.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
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
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	if err := lockLabels(ctx, o.lock, true); err != nil {
		return fmt.Errorf("append label: lock labels file: %w", err)
	}
	defer o.lock.Unlock()
	if err := o.reopenIfReplaced(); err != nil {
		return fmt.Errorf("append label: %w", err)
	}
	// A last line a crash cut short stays a line of its own.
	if torn, err := o.endsTorn(); err != nil {
		return fmt.Errorf("append label: %w", err)
	} else if torn {
		line = append([]byte{'\n'}, line...)
	}
	if _, err := o.f.Write(line); err != nil {
		return fmt.Errorf("append label: %w", err)
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("append label: %w", err)
	}
	return nil
}

// endsTorn reports whether the file is not empty and does not end with a newline.
func (o *OutcomeLog) endsTorn() (bool, error) {
	info, err := o.f.Stat()
	if err != nil || info.Size() == 0 {
		return false, err
	}
	last := make([]byte, 1)
	if _, err := o.f.ReadAt(last, info.Size()-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
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
	err := scanOutcomes(path, athleteID, func(_ []byte, mine bool) error {
		if mine {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ExportOutcomes writes the athlete's labels from the labels file at path, one a
// line, into the file out, which appears whole or not at all and only when there is
// at least one label; an out left by an earlier export is removed when there is none.
// It returns how many it wrote.
func ExportOutcomes(path, athleteID, out string) (int, error) {
	var buf bytes.Buffer
	n := 0
	err := scanOutcomes(path, athleteID, func(line []byte, mine bool) error {
		if mine {
			buf.Write(bytes.TrimRight(line, "\r\n"))
			buf.WriteByte('\n')
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n == 0 {
		if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("export labels: %w", err)
		}
		return 0, nil
	}
	err = replaceFile(out, 0o600, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("export labels: %w", err)
	}
	return n, nil
}

// DeleteOutcomes removes every label of the athlete from the labels file at path (or
// the file a symbolic link there leads to) and returns how many it removed. The file
// is replaced whole (written beside it, synced, renamed over it), so a crash leaves
// either the old or the new file; other lines are kept byte for byte. A line that is
// not a label, such as one a crash cut short, goes when it holds the athlete's id
// and stays otherwise. OutcomeLogs appending to the file meanwhile wait for it and
// then append to the new file.
func DeleteOutcomes(path, athleteID string) (int, error) {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("delete labels: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	lock := labelsLock(path)
	if err := lockLabels(ctx, lock, false); err != nil {
		return 0, fmt.Errorf("lock labels file %s: %w", path, err)
	}
	defer lock.Unlock()

	removed, err := rewriteWithout(target, athleteID)
	if err != nil {
		return 0, fmt.Errorf("delete labels from %s: %w", target, err)
	}
	return removed, nil
}

// rewriteWithout replaces the labels file at path with a copy without the athlete's
// lines, unless it has none.
func rewriteWithout(path, athleteID string) (int, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	removed := 0
	err = replaceFile(path, info.Mode().Perm(), func(w io.Writer) error {
		err := scanOutcomes(path, athleteID, func(line []byte, mine bool) error {
			if mine {
				removed++
				return nil
			}
			_, err := w.Write(line)
			return err
		})
		if err == nil && removed == 0 {
			return errUnchanged
		}
		return err
	})
	if errors.Is(err, errUnchanged) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return removed, nil
}

// errUnchanged, returned by replaceFile's write, leaves the file as it was.
var errUnchanged = errors.New("nothing to change")

// scanOutcomes calls fn with every line of the labels file, its end included, and
// whether it is one of the athlete's (see ownsLine). A missing file has no lines.
func scanOutcomes(path, athleteID string, fn func(line []byte, mine bool) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read labels file: %w", err)
	}
	defer f.Close()

	quoted, _ := json.Marshal(athleteID)
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if ferr := fn(line, ownsLine(line, athleteID, quoted)); ferr != nil {
				return ferr
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

// ownsLine reports whether a line of a labels file belongs to the athlete: a label
// naming them, or a line that is no label (cut short by a crash, edited by hand) but
// holds their id as a JSON string, quoted. Erasing a damaged line of theirs matters
// more than keeping it.
func ownsLine(line []byte, athleteID string, quoted []byte) bool {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return false
	}
	var l struct {
		AthleteID *string `json:"athlete_id"`
	}
	if err := json.Unmarshal(line, &l); err == nil && l.AthleteID != nil {
		return *l.AthleteID == athleteID
	}
	return bytes.Contains(line, quoted)
}

// lockLabels takes the labels lock, shared or exclusive, by ctx's deadline, making
// sure that the lock file it holds is still the one its path names: were the file
// removed meanwhile, another process could lock a new one at the same time.
func lockLabels(ctx context.Context, lock *flock.Flock, shared bool) error {
	for {
		try := lock.TryLockContext
		if shared {
			try = lock.TryRLockContext
		}
		ok, err := try(ctx, 5*time.Millisecond)
		if err == nil && !ok {
			err = errors.New("another process holds it")
		}
		if err != nil {
			return err
		}
		held, herr := lock.Stat()
		named, nerr := os.Stat(lock.Path())
		if herr == nil && nerr == nil && os.SameFile(held, named) {
			return nil
		}
		if err := lock.Unlock(); err != nil {
			return err
		}
	}
}

// replaceFile writes a new file beside path through write, syncs it and renames it
// over path, then syncs the folder: after a crash path is either as it was or whole.
// When write fails, path stays as it was.
func replaceFile(path string, perm os.FileMode, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	w := bufio.NewWriter(tmp)
	if err := write(w); err != nil {
		tmp.Close()
		return err
	}
	err = errors.Join(w.Flush(), tmp.Chmod(perm), tmp.Sync(), tmp.Close())
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}
