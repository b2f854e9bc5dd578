// Package wal makes the in-memory feature store durable: Durable is a
// features.OnlineStore that writes every reading to a write-ahead log, fsynced,
// before it applies it and acknowledges it, and that writes snapshots of the store
// so that recovery replays only the log written since the newest one.
//
// # Directory
//
// A store's directory holds:
//
//	00000000000000000001.wal   segments, numbered from 1 without gaps
//	snapshot-<segment>-<offset>.snap   the store as of that position of the log
//	snapshot-*.tmp             a snapshot being written (removed on open)
//	LOCK                       held by the process that has the store open
//
// # Segments
//
// A segment starts with a 16-byte header, "HCWL", a format version byte (1),
// three zero bytes and the segment's number as a little-endian uint64. Frames
// follow, each a record:
//
//	length    uint32, little-endian: the payload's bytes, 1 to MaxRecordBytes
//	checksum  uint32, little-endian: CRC-32C (Castagnoli) of the length's four
//	          bytes followed by the payload
//	payload   length bytes
//
// A segment is appended to until it passes Options.SegmentBytes, at a batch
// boundary, so a batch of records never spans two segments.
//
// # Records
//
// A payload's first byte is its Kind. Integers are varints as in encoding/binary
// (uvarint for unsigned, zig-zag varint for signed); strings are a uvarint length
// then the bytes; floats are IEEE 754 binary64, little-endian.
//
//	KindReading (1)  athlete id, source, event time as varint Unix seconds and
//	                 uvarint nanoseconds, uvarint mask of the signals present (bit
//	                 i for features.Signal i), then one float per set bit in signal
//	                 order. A present signal is never NaN.
//	KindDelete (2)   athlete id: forget the athlete (OnlineStore.Delete). It is
//	                 the last record of its segment, and a snapshot follows it at
//	                 once, which removes it with every record of the athlete.
//
// Every reading offered to the store is logged, rejected ones included, so that
// recovery rebuilds the quarantine as well as the windows; a reading's outcome
// (applied, late, rejected…) is not logged but recomputed on replay, which applies
// the records in log order, the order in which they were applied the first time.
//
// # Snapshots
//
// A snapshot file is "HCSNAP", a format version byte (1), a zero byte, the log
// position it was taken at (segment number uint64, byte offset int64, both
// little-endian), the store's state as written by features.Store.WriteSnapshot,
// and a CRC-32C of everything before it (uint32, little-endian). It is written to
// a temporary file, fsynced and renamed into place; the segments before its
// position are then deleted.
//
// # Recovery
//
// Open loads the newest snapshot that reads whole (falling back to an older one
// only if the log still reaches back to it) and replays the records after its
// position. Damage after which no intact frame follows, in the last segment, is a
// torn tail, the write that a crash cut short: it was never acknowledged, so it is
// truncated with a warning. Any other damage stops Open with a *CorruptError
// naming the segment and offset, or, with Options.SkipCorrupt, is skipped with a
// warning up to the next intact frame.
package wal
