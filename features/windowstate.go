package features

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/hydrocast/hydrocast/models/physio"
)

// Errors of the state codecs (AthleteWindow.UnmarshalBinary, Store.ReadSnapshot).
var (
	// ErrStateVersion is returned for state written in a format version this build
	// does not read, typically by a newer build.
	ErrStateVersion = errors.New("unsupported state version")
	// ErrStateCorrupt is returned for state that does not decode.
	ErrStateCorrupt = errors.New("corrupt state")
)

// Format versions of the state codecs; a decoder reads only its own version.
const (
	windowStateVersion = 1
	storeStateVersion  = 1
)

// Bounds that a decoder enforces on lengths read from outside data.
const (
	maxStateString = 1 << 20  // any id, source, field or reason
	maxWindowState = 64 << 20 // one window's encoding
)

// Bits of a window state's flags byte.
const (
	flagStarted = 1 << iota
	flagSessionActive
	flagSessionMass
)

// AppendBinary appends the window's complete state to b, so that a window decoded
// from it behaves exactly as w does: the same results for the same readings, the
// same vectors. The encoding, all integers little-endian, is:
//
//	version       u8, 1
//	flags         u8: 1 started, 2 session active, 4 session holds a weigh-in
//	athlete id    uvarint length, bytes
//	lateness      uvarint, ms
//	max readings  uvarint
//	newest        i64, Unix ms
//	commit end    i64, Unix ms
//	counts        6 × uvarint: applied, duplicate, replaced, late, full, rejected
//	sources       uvarint count, then each as uvarint length and bytes
//	signals       u8, the number of value columns below (NumSignals when written)
//	rows          uvarint n, i64 time base (Unix ms), n × i32 time − base,
//	              n × u16 source index, then per signal n × f32 values (NaN: missing)
//	session       i64 start, i64 last, f64 core temperature, f64 its variance,
//	              i64 open minute, f64 its heart-rate sum, u32 its count,
//	              i64 its newest heart-rate time, u32 filter steps, f64 last minute's
//	              heart rate, i64 its time, f64 baseline sum, u32 baseline minutes,
//	              f64 fluid, u32 fluid readings, f64 body mass, i64 weigh-in time
//
// A reader of a later build fills signals added since with NaN. The error is
// always nil; it is there for encoding.BinaryAppender.
func (w *AthleteWindow) AppendBinary(b []byte) ([]byte, error) {
	flags := byte(0)
	if w.started {
		flags |= flagStarted
	}
	if w.committed.active {
		flags |= flagSessionActive
	}
	if w.committed.hasMass {
		flags |= flagSessionMass
	}
	b = append(b, windowStateVersion, flags)
	b = appendString(b, w.id)
	b = binary.AppendUvarint(b, uint64(w.lateness))
	b = binary.AppendUvarint(b, uint64(w.maxRows))
	b = binary.LittleEndian.AppendUint64(b, uint64(w.newest))
	b = binary.LittleEndian.AppendUint64(b, uint64(w.commitEnd))
	b = appendCounts(b, w.counts)

	b = binary.AppendUvarint(b, uint64(len(w.sources)))
	for _, s := range w.sources {
		b = appendString(b, s)
	}
	b = w.rows.appendBinary(b)
	return w.committed.appendBinary(b), nil
}

// MarshalBinary returns the window's state (see AppendBinary).
func (w *AthleteWindow) MarshalBinary() ([]byte, error) {
	return w.AppendBinary(make([]byte, 0, 128+w.rows.n*(6+4*int(NumSignals))))
}

// appendBinary appends the rows: count, base, then the columns oldest row first.
func (r *ring) appendBinary(b []byte) []byte {
	b = append(b, byte(NumSignals))
	b = binary.AppendUvarint(b, uint64(r.n))
	b = binary.LittleEndian.AppendUint64(b, uint64(r.base))
	for i := range r.n {
		b = binary.LittleEndian.AppendUint32(b, uint32(r.times[r.phys(i)]))
	}
	for i := range r.n {
		b = binary.LittleEndian.AppendUint16(b, r.srcs[r.phys(i)])
	}
	for s := range NumSignals {
		for i := range r.n {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(r.value(s, i)))
		}
	}
	return b
}

func (s *session) appendBinary(b []byte) []byte {
	ct, variance := s.filter.Estimate()
	le := binary.LittleEndian
	b = le.AppendUint64(b, uint64(s.start))
	b = le.AppendUint64(b, uint64(s.last))
	b = le.AppendUint64(b, math.Float64bits(ct))
	b = le.AppendUint64(b, math.Float64bits(variance))
	b = le.AppendUint64(b, uint64(s.bin))
	b = le.AppendUint64(b, math.Float64bits(s.binHRSum))
	b = le.AppendUint32(b, uint32(s.binHRN))
	b = le.AppendUint64(b, uint64(s.binHRTime))
	b = le.AppendUint32(b, uint32(s.steps))
	b = le.AppendUint64(b, math.Float64bits(s.hrMinute))
	b = le.AppendUint64(b, uint64(s.hrTime))
	b = le.AppendUint64(b, math.Float64bits(s.baseSum))
	b = le.AppendUint32(b, uint32(s.baseN))
	b = le.AppendUint64(b, math.Float64bits(s.fluid))
	b = le.AppendUint32(b, uint32(s.fluidN))
	b = le.AppendUint64(b, math.Float64bits(s.mass))
	return le.AppendUint64(b, uint64(s.massTime))
}

// UnmarshalBinary replaces the window's state with one encoded by AppendBinary,
// reusing the window's columns when they are large enough. On error the window is
// left empty. It fails with ErrStateVersion or ErrStateCorrupt, and checks the
// state enough that no later call on the window can fail or loop on its account.
func (w *AthleteWindow) UnmarshalBinary(data []byte) error {
	if err := w.decode(&stateReader{b: data}); err != nil {
		*w = *NewAthleteWindow("", WindowOptions{})
		return fmt.Errorf("decode athlete window: %w", err)
	}
	return nil
}

func (w *AthleteWindow) decode(d *stateReader) error {
	if v := d.byte(); d.err == nil && v != windowStateVersion {
		return fmt.Errorf("%w %d, want %d", ErrStateVersion, v, windowStateVersion)
	}
	flags := d.byte()
	w.id = d.string()
	w.lateness = d.bounded(uint64(MaxLateness.Milliseconds()), "lateness")
	w.keep = windowSpan.Milliseconds() + w.lateness
	w.maxRows = int(d.bounded(maxReadingsLimit, "max readings"))
	w.newest = d.int64()
	w.commitEnd = d.int64()
	w.counts = d.counts()
	w.started = flags&flagStarted != 0

	w.sources = w.sources[:0]
	for n := d.bounded(math.MaxUint16+1, "sources"); n > 0 && d.err == nil; n-- {
		w.sources = append(w.sources, d.string())
	}
	w.rows.decode(d, w.maxRows, len(w.sources))
	w.committed.decode(d, flags)
	switch {
	case d.err != nil:
		return d.err
	case len(d.b) != 0:
		return fmt.Errorf("%w: %d bytes after the window", ErrStateCorrupt, len(d.b))
	case w.maxRows == 0:
		return fmt.Errorf("%w: max readings zero", ErrStateCorrupt)
	case !w.started && w.rows.n != 0:
		return fmt.Errorf("%w: rows in a window never started", ErrStateCorrupt)
	case w.started && !w.timesConsistent():
		return fmt.Errorf("%w: row times outside the window", ErrStateCorrupt)
	}
	return nil
}

// maxStateTime bounds the Unix ms times of a decoded window, about 285,000 years
// either side of 1970, so that its arithmetic cannot overflow.
const maxStateTime = 1 << 53

// timesConsistent checks what Add relies on to keep rows in order: the time base
// lies at least the kept span behind the newest reading, the newest reading is
// within an int32 of it, and every row lies in the kept span.
func (w *AthleteWindow) timesConsistent() bool {
	base, newest := w.rows.base, w.newest
	if newest < -maxStateTime || newest > maxStateTime || base < -maxStateTime ||
		base > newest-w.keep || newest-base > math.MaxInt32 {
		return false
	}
	if w.rows.n == 0 {
		return true
	}
	return w.rows.time(0) > newest-w.keep && w.rows.time(w.rows.n-1) <= newest
}

// decode reads the rows written by appendBinary into columns of capacity above n.
func (r *ring) decode(d *stateReader, maxRows, sources int) {
	signals := int(d.byte())
	if d.err == nil && signals > int(NumSignals) {
		d.fail(fmt.Errorf("%w: %d signals, this build knows %d", ErrStateVersion,
			signals, NumSignals))
	}
	n := int(d.bounded(uint64(maxRows), "rows"))
	r.base = d.int64()
	if d.err != nil || !d.has(n*(6+4*signals)) {
		r.n = 0
		return
	}

	// The columns are read straight from the bytes, whose length was checked above:
	// a window's vector is often computed right after decoding it, so this is on
	// the path of every lookup in a shared store.
	r.reset(n)
	c, b, le := len(r.times), d.b, binary.LittleEndian
	d.b = d.b[n*(6+4*signals):]
	ordered := true
	for i := range n {
		r.times[i] = int32(le.Uint32(b[4*i:]))
		ordered = ordered && (i == 0 || r.times[i] >= r.times[i-1])
	}
	if !ordered {
		d.fail(fmt.Errorf("%w: rows out of time order", ErrStateCorrupt))
	}
	b = b[4*n:]
	for i := range n {
		if r.srcs[i] = le.Uint16(b[2*i:]); int(r.srcs[i]) >= sources {
			d.fail(fmt.Errorf("%w: row of unknown source %d", ErrStateCorrupt, r.srcs[i]))
		}
	}
	b = b[2*n:]
	for s := range int(NumSignals) {
		col := r.vals[s*c : s*c+n]
		if s >= signals {
			for i := range col {
				col[i] = float32(math.NaN())
			}
			continue
		}
		for i := range col {
			col[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		b = b[4*n:]
	}
}

// reset empties the ring and makes room for n rows and one more, reusing the
// columns when they are large enough.
func (r *ring) reset(n int) {
	r.head, r.n = 0, n
	if n == 0 {
		return
	}
	c := max(n+1, initialRingCap)
	if len(r.times) < c {
		r.times = make([]int32, c)
		r.srcs = make([]uint16, c)
		r.vals = make([]float32, c*int(NumSignals))
	}
}

func (s *session) decode(d *stateReader, flags byte) {
	s.active = flags&flagSessionActive != 0
	s.hasMass = flags&flagSessionMass != 0
	s.start = d.int64()
	s.last = d.int64()
	ct, variance := d.float64(), d.float64()
	s.bin = d.int64()
	s.binHRSum = d.float64()
	s.binHRN = int32(d.uint32())
	s.binHRTime = d.int64()
	s.steps = int32(d.uint32())
	s.hrMinute = d.float64()
	s.hrTime = d.int64()
	s.baseSum = d.float64()
	s.baseN = int32(d.uint32())
	s.fluid = d.float64()
	s.fluidN = int32(d.uint32())
	s.mass = d.float64()
	s.massTime = d.int64()
	if d.err != nil {
		return
	}

	// Closing minutes walks from the open minute to the newest reading: a state
	// whose open minute lies far behind it would walk for ages.
	if s.active && s.bin < floorMinute(s.last) {
		d.fail(fmt.Errorf("%w: open minute before the newest reading", ErrStateCorrupt))
		return
	}
	s.filter = physio.ECTempFrom(ct, variance)
}

// WriteSnapshot writes the store's whole state to out: the quarantine, the counts
// and every athlete's window (see AthleteWindow.AppendBinary), in a deterministic
// order, so that two stores that took the same readings write the same bytes. The
// encoding, integers little-endian, is:
//
//	version     u8, 1
//	rejected    uvarint
//	deleted     6 × uvarint, the counts of deleted athletes' windows
//	quarantine  uvarint entries, each: u8 flags (1 overflow), athlete, source, field,
//	            last reason (each uvarint length and bytes), uvarint count, last time
//	            as varint Unix seconds and uvarint nanoseconds
//	windows     uvarint count, each as uvarint length and the window's state
//
// Each shard is read under its lock, one after another: the snapshot is one instant
// of the store only when nothing ingests meanwhile, which the caller arranges.
func (s *Store) WriteSnapshot(out io.Writer) error {
	bw := bufio.NewWriterSize(out, 64<<10)
	b := []byte{storeStateVersion}

	s.qmu.Lock()
	b = binary.AppendUvarint(b, s.rejected)
	s.qmu.Unlock()
	var deleted Counts
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		deleted.Merge(sh.counts)
		sh.mu.RUnlock()
	}
	b = appendCounts(b, deleted)

	q, _ := s.Quarantine(context.Background())
	b = binary.AppendUvarint(b, uint64(len(q)))
	for i := range q {
		b = appendQuarantineEntry(b, &q[i])
	}

	ids, _ := s.Athletes(context.Background())
	b = binary.AppendUvarint(b, uint64(len(ids)))
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("write store snapshot: %w", err)
	}
	if err := s.writeWindows(bw, ids); err != nil {
		return fmt.Errorf("write store snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write store snapshot: %w", err)
	}
	return nil
}

// writeWindows writes the windows of the athletes, each length-prefixed. An athlete
// deleted since ids were listed is written as an empty window, which ReadSnapshot
// skips.
func (s *Store) writeWindows(bw *bufio.Writer, ids []string) error {
	var b []byte
	for _, id := range ids {
		sh := s.shardOf(id)
		sh.mu.RLock()
		b = b[:0]
		if w := sh.athletes[id]; w != nil {
			b, _ = w.AppendBinary(b)
		}
		sh.mu.RUnlock()

		var n [binary.MaxVarintLen64]byte
		if _, err := bw.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))]); err != nil {
			return err
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func appendQuarantineEntry(b []byte, e *QuarantineEntry) []byte {
	flags := byte(0)
	if e.Overflow {
		flags = 1
	}
	b = append(b, flags)
	b = appendString(b, e.AthleteID)
	b = appendString(b, e.Source)
	b = appendString(b, e.Field)
	b = appendString(b, e.LastReason)
	b = binary.AppendUvarint(b, e.Count)
	b = binary.AppendVarint(b, e.LastTime.Unix())
	return binary.AppendUvarint(b, uint64(e.LastTime.Nanosecond()))
}

// ReadSnapshot replaces the store's whole state with a snapshot written by
// WriteSnapshot. Windows keep the options they were written with; athletes new
// after it get the store's. On error the store is left as it was. It fails with
// ErrStateVersion or ErrStateCorrupt for a snapshot it cannot read.
func (s *Store) ReadSnapshot(in io.Reader) error {
	br, ok := in.(io.ByteReader)
	if !ok {
		buf := bufio.NewReaderSize(in, 64<<10)
		in, br = buf, buf
	}
	snap, err := readStoreSnapshot(in, br)
	if err != nil {
		return fmt.Errorf("read store snapshot: %w", err)
	}

	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.athletes = make(map[string]*AthleteWindow)
		sh.counts = Counts{}
		if i == 0 {
			sh.counts = snap.deleted
		}
		sh.mu.Unlock()
	}
	for _, w := range snap.windows {
		sh := s.shardOf(w.id)
		sh.mu.Lock()
		sh.athletes[w.id] = w
		sh.mu.Unlock()
	}
	s.qmu.Lock()
	s.quarantine, s.rejected = snap.quarantine, snap.rejected
	s.qmu.Unlock()
	return nil
}

// storeSnapshot is a decoded snapshot, held until it is known to be whole.
type storeSnapshot struct {
	rejected   uint64
	deleted    Counts
	quarantine map[quarantineKey]*QuarantineEntry
	windows    []*AthleteWindow
}

func readStoreSnapshot(in io.Reader, br io.ByteReader) (*storeSnapshot, error) {
	d := &streamReader{r: in, br: br}
	if v := d.byte(); d.err == nil && v != storeStateVersion {
		return nil, fmt.Errorf("%w %d, want %d", ErrStateVersion, v, storeStateVersion)
	}
	snap := &storeSnapshot{quarantine: make(map[quarantineKey]*QuarantineEntry)}
	snap.rejected = d.uvarint()
	snap.deleted = Counts{Applied: d.uvarint(), Duplicate: d.uvarint(),
		Replaced: d.uvarint(), Late: d.uvarint(), Full: d.uvarint(), Rejected: d.uvarint()}

	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		e := d.quarantineEntry()
		key := quarantineKey{athlete: e.AthleteID, source: e.Source, field: e.Field,
			overflow: e.Overflow}
		snap.quarantine[key] = e
	}

	var b []byte
	seen := make(map[string]bool)
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		size := d.uvarint()
		if size > maxWindowState {
			d.fail(fmt.Errorf("%w: window state of %d bytes", ErrStateCorrupt, size))
			break
		}
		if b = d.fill(b, int(size)); size == 0 || d.err != nil {
			continue
		}
		w := &AthleteWindow{}
		if err := w.UnmarshalBinary(b); err != nil {
			return nil, err
		}
		if seen[w.id] {
			return nil, fmt.Errorf("%w: athlete twice", ErrStateCorrupt)
		}
		seen[w.id] = true
		snap.windows = append(snap.windows, w)
	}
	if d.err != nil {
		return nil, d.err
	}
	return snap, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendCounts(b []byte, c Counts) []byte {
	for _, n := range [...]uint64{c.Applied, c.Duplicate, c.Replaced, c.Late, c.Full,
		c.Rejected} {
		b = binary.AppendUvarint(b, n)
	}
	return b
}

// stateReader decodes a byte slice; the first error sticks and later reads return
// zeros, so that a decoder reads straight through and checks once.
type stateReader struct {
	b   []byte
	err error
}

func (d *stateReader) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// has reports whether n more bytes remain, failing when they do not.
func (d *stateReader) has(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b) < n {
		d.fail(fmt.Errorf("%w: truncated", ErrStateCorrupt))
		return false
	}
	return true
}

func (d *stateReader) byte() byte {
	if !d.has(1) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *stateReader) uint32() uint32 {
	if !d.has(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *stateReader) int64() int64 {
	if !d.has(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return int64(v)
}

func (d *stateReader) float64() float64 { return math.Float64frombits(uint64(d.int64())) }

func (d *stateReader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(fmt.Errorf("%w: bad varint", ErrStateCorrupt))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bounded reads a uvarint that must not exceed limit.
func (d *stateReader) bounded(limit uint64, what string) int64 {
	v := d.uvarint()
	if v > limit {
		d.fail(fmt.Errorf("%w: %s %d over %d", ErrStateCorrupt, what, v, limit))
		return 0
	}
	return int64(v)
}

func (d *stateReader) string() string {
	n := d.bounded(maxStateString, "string length")
	if !d.has(int(n)) {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *stateReader) counts() Counts {
	return Counts{Applied: d.uvarint(), Duplicate: d.uvarint(), Replaced: d.uvarint(),
		Late: d.uvarint(), Full: d.uvarint(), Rejected: d.uvarint()}
}

// streamReader decodes a stream, with the same sticky error as stateReader.
type streamReader struct {
	r   io.Reader
	br  io.ByteReader
	err error
}

func (d *streamReader) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *streamReader) readErr(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: truncated", ErrStateCorrupt)
	}
	d.fail(err)
}

func (d *streamReader) byte() byte {
	if d.err != nil {
		return 0
	}
	v, err := d.br.ReadByte()
	if err != nil {
		d.readErr(err)
	}
	return v
}

func (d *streamReader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.br)
	if err != nil {
		d.readErr(err)
	}
	return v
}

func (d *streamReader) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.br)
	if err != nil {
		d.readErr(err)
	}
	return v
}

// fill reads exactly n bytes into buf, growing it as needed.
func (d *streamReader) fill(buf []byte, n int) []byte {
	buf = slices.Grow(buf[:0], n)[:n]
	if d.err != nil {
		return buf
	}
	if _, err := io.ReadFull(d.r, buf); err != nil {
		d.readErr(err)
	}
	return buf
}

func (d *streamReader) string() string {
	n := d.uvarint()
	if n > maxStateString {
		d.fail(fmt.Errorf("%w: string of %d bytes", ErrStateCorrupt, n))
		return ""
	}
	return string(d.fill(nil, int(n)))
}

func (d *streamReader) quarantineEntry() *QuarantineEntry {
	e := &QuarantineEntry{Overflow: d.byte()&1 != 0}
	e.AthleteID, e.Source, e.Field = d.string(), d.string(), d.string()
	e.LastReason = d.string()
	e.Count = d.uvarint()
	sec, nsec := d.varint(), d.uvarint()
	if nsec >= 1e9 {
		d.fail(fmt.Errorf("%w: nanoseconds %d", ErrStateCorrupt, nsec))
		nsec = 0
	}
	e.LastTime = time.Unix(sec, int64(nsec)).UTC()
	return e
}
