package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// MaxRecordBytes bounds a record's payload; a reading takes about a hundred bytes.
const MaxRecordBytes = 1 << 20

// Layout of segments (see the package documentation).
const (
	segmentHeaderSize = 16
	frameHeaderSize   = 8
	segmentVersion    = 1
	segmentSuffix     = ".wal"
)

var (
	segmentMagic = [4]byte{'H', 'C', 'W', 'L'}
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// ErrCorrupt is wrapped by every *CorruptError.
var ErrCorrupt = errors.New("corrupt write-ahead log")

// CorruptError reports damage that recovery will not repair on its own.
type CorruptError struct {
	Segment string // file name within the store's directory
	Offset  int64  // byte offset of the damage within the segment
	Reason  string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: segment %s at offset %d: %s", ErrCorrupt, e.Segment, e.Offset,
		e.Reason)
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// position is a place in the log: a segment and a byte offset in it.
type position struct {
	segment uint64
	offset  int64
}

func segmentName(index uint64) string { return fmt.Sprintf("%020d%s", index, segmentSuffix) }

// parseSegmentName returns the index of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	index, err := strconv.ParseUint(digits, 10, 64)
	return index, err == nil && index > 0
}

func appendSegmentHeader(b []byte, index uint64) []byte {
	b = append(b, segmentMagic[:]...)
	b = append(b, segmentVersion, 0, 0, 0)
	return binary.LittleEndian.AppendUint64(b, index)
}

// checkSegmentHeader checks a segment's header against its expected index.
func checkSegmentHeader(data []byte, index uint64) error {
	switch {
	case len(data) < segmentHeaderSize:
		return errors.New("header incomplete")
	case !bytes.Equal(data[:4], segmentMagic[:]):
		return errors.New("not a segment")
	case data[4] != segmentVersion:
		return fmt.Errorf("segment format version %d, want %d", data[4], segmentVersion)
	case binary.LittleEndian.Uint64(data[8:]) != index:
		return fmt.Errorf("header names segment %d", binary.LittleEndian.Uint64(data[8:]))
	}
	return nil
}

// appendFrame appends payload to b as a frame: length, checksum, payload.
func appendFrame(b, payload []byte) []byte {
	var h [frameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[:4], uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(h[:4], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:], crc)
	return append(append(b, h[:]...), payload...)
}

// frameAt returns the payload of the frame at off, or why there is no intact frame.
func frameAt(data []byte, off int64) (payload []byte, reason string) {
	rest := data[off:]
	if len(rest) < frameHeaderSize {
		return nil, "frame header incomplete"
	}
	n := binary.LittleEndian.Uint32(rest)
	if n == 0 || n > MaxRecordBytes {
		return nil, fmt.Sprintf("record length %d", n)
	}
	if int64(n) > int64(len(rest)-frameHeaderSize) {
		return nil, "record runs past the end"
	}
	payload = rest[frameHeaderSize : frameHeaderSize+n]
	crc := crc32.Update(crc32.Checksum(rest[:4], castagnoli), castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(rest[4:]) {
		return nil, "checksum mismatch"
	}
	return payload, ""
}

// nextFrame returns the offset of the first intact frame after off, or −1.
func nextFrame(data []byte, off int64) int64 {
	for o := off + 1; o+frameHeaderSize < int64(len(data)); o++ {
		if _, reason := frameAt(data, o); reason == "" {
			return o
		}
	}
	return -1
}

// damage is where a segment stops decoding.
type damage struct {
	offset int64  // of the first bad frame
	resume int64  // of the next intact frame, −1 when none follows
	reason string // why the frame at offset is bad
}

// scanFrames calls fn with each frame's offset and decoded record, from off to the
// end of data or the first damage, and returns where it stopped: the end of the
// last good frame and the damage, nil when data ended cleanly. A frame whose
// payload does not decode is damage too, though intact.
func scanFrames(data []byte, off int64, fn func(end int64, rec *Record)) (int64, *damage) {
	var rec Record
	for off < int64(len(data)) {
		payload, reason := frameAt(data, off)
		if reason != "" {
			return off, &damage{offset: off, resume: nextFrame(data, off), reason: reason}
		}
		end := off + frameHeaderSize + int64(len(payload))
		if err := DecodeRecord(payload, &rec); err != nil {
			return off, &damage{offset: off, resume: end, reason: err.Error()}
		}
		fn(end, &rec)
		off = end
	}
	return off, nil
}

// createSegment creates segment index in dir with its header, durably: the file's
// content and its directory entry are fsynced.
func createSegment(dir string, index uint64) (*os.File, error) {
	path := filepath.Join(dir, segmentName(index))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.Write(appendSegmentHeader(nil, index)); err != nil {
		f.Close()
		return nil, fmt.Errorf("write segment header: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync segment: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// listSegments returns the indexes of the segments in dir, sorted.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var out []uint64
	for _, e := range entries {
		if index, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, index)
		}
	}
	slices.Sort(out)
	return out, nil
}

// removeSegmentsBefore deletes the segments of dir numbered below index.
func removeSegmentsBefore(dir string, index uint64) error {
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s >= index {
			break
		}
		if err := os.Remove(filepath.Join(dir, segmentName(s))); err != nil {
			return fmt.Errorf("remove segment: %w", err)
		}
	}
	return nil
}

// syncDir fsyncs a directory, making the creation, renaming or removal of its
// entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
