package wal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hydrocast/hydrocast/features"
)

// Layout of snapshot files (see the package documentation).
const (
	snapshotVersion    = 1
	snapshotHeaderSize = 24
	snapshotPrefix     = "snapshot-"
	snapshotSuffix     = ".snap"
	snapshotTemp       = "snapshot-*.tmp"
)

var snapshotMagic = [6]byte{'H', 'C', 'S', 'N', 'A', 'P'}

func snapshotName(p position) string {
	return fmt.Sprintf("%s%020d-%020d%s", snapshotPrefix, p.segment, p.offset, snapshotSuffix)
}

// parseSnapshotName returns the position in a snapshot file name.
func parseSnapshotName(name string) (position, bool) {
	rest, ok := strings.CutPrefix(name, snapshotPrefix)
	if !ok {
		return position{}, false
	}
	rest, ok = strings.CutSuffix(rest, snapshotSuffix)
	if !ok {
		return position{}, false
	}
	var p position
	n, err := fmt.Sscanf(rest, "%020d-%020d", &p.segment, &p.offset)
	return p, err == nil && n == 2 && snapshotName(p) == name
}

// listSnapshots returns the positions of the snapshots in dir, newest first.
func listSnapshots(dir string) ([]position, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []position
	for _, e := range entries {
		if p, ok := parseSnapshotName(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b position) int { return comparePositions(b, a) })
	return out, nil
}

func comparePositions(a, b position) int {
	switch {
	case a.segment != b.segment:
		if a.segment < b.segment {
			return -1
		}
		return 1
	case a.offset < b.offset:
		return -1
	case a.offset > b.offset:
		return 1
	}
	return 0
}

// checksumWriter passes writes on and keeps their CRC-32C.
type checksumWriter struct {
	w   io.Writer
	crc hash.Hash32
}

func (c *checksumWriter) Write(p []byte) (int, error) {
	c.crc.Write(p)
	return c.w.Write(p)
}

// writeSnapshot writes the snapshot of store at position p to f, not synced. The
// caller keeps the store still meanwhile.
func writeSnapshot(f *os.File, p position, store *features.Store) error {
	bw := bufio.NewWriterSize(f, 256<<10)
	cw := &checksumWriter{w: bw, crc: crc32.New(castagnoli)}

	h := append(snapshotMagic[:0:0], snapshotMagic[:]...)
	h = append(h, snapshotVersion, 0)
	h = binary.LittleEndian.AppendUint64(h, p.segment)
	h = binary.LittleEndian.AppendUint64(h, uint64(p.offset))
	if _, err := cw.Write(h); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := store.WriteSnapshot(cw); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if _, err := bw.Write(binary.LittleEndian.AppendUint32(nil, cw.crc.Sum32())); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// readSnapshot restores the snapshot file at path, which must have been taken at
// position want, into store. The checksum covers the whole file,
// so it is known good only at the end: on error, store holds anything and the
// caller drops it.
func readSnapshot(path string, want position, store *features.Store) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open snapshot: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat snapshot: %w", err)
	}
	if info.Size() < snapshotHeaderSize+4 {
		return errors.New("snapshot truncated")
	}

	crc := crc32.New(castagnoli)
	body := io.TeeReader(io.LimitReader(f, info.Size()-4), crc)
	br := bufio.NewReaderSize(body, 256<<10)
	var h [snapshotHeaderSize]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return fmt.Errorf("read snapshot header: %w", err)
	}
	if err := checkSnapshotHeader(h[:], want); err != nil {
		return err
	}

	if err := store.ReadSnapshot(br); err != nil {
		return err
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return errors.New("snapshot has bytes after the store")
	}
	var sum [4]byte
	if _, err := io.ReadFull(f, sum[:]); err != nil {
		return fmt.Errorf("read snapshot checksum: %w", err)
	}
	if binary.LittleEndian.Uint32(sum[:]) != crc.Sum32() {
		return errors.New("snapshot checksum mismatch")
	}
	return nil
}

func checkSnapshotHeader(h []byte, want position) error {
	switch {
	case !bytes.Equal(h[:6], snapshotMagic[:]):
		return errors.New("not a snapshot")
	case h[6] != snapshotVersion:
		return fmt.Errorf("snapshot format version %d, want %d", h[6], snapshotVersion)
	}
	got := position{segment: binary.LittleEndian.Uint64(h[8:]),
		offset: int64(binary.LittleEndian.Uint64(h[16:]))}
	if got != want {
		return fmt.Errorf("snapshot header says position %v, name says %v", got, want)
	}
	return nil
}

// removeSnapshotsExcept deletes the snapshots of dir other than keep, and any
// temporary snapshot files.
func removeSnapshotsExcept(dir string, keep position) error {
	snaps, err := listSnapshots(dir)
	if err != nil {
		return err
	}
	for _, p := range snaps {
		if p != keep {
			if err := os.Remove(filepath.Join(dir, snapshotName(p))); err != nil {
				return fmt.Errorf("remove snapshot: %w", err)
			}
		}
	}
	return removeTemps(dir)
}

// removeTemps deletes temporary snapshot files, left by a crash mid-snapshot.
func removeTemps(dir string) error {
	temps, err := filepath.Glob(filepath.Join(dir, snapshotTemp))
	if err != nil {
		return fmt.Errorf("list temporary snapshots: %w", err)
	}
	for _, t := range temps {
		if err := os.Remove(t); err != nil {
			return fmt.Errorf("remove temporary snapshot: %w", err)
		}
	}
	return nil
}
