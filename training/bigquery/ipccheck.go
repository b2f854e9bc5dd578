package bigquery

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow/memory"
	flatbuffers "github.com/google/flatbuffers/go"
)

// Arrow's IPC reader trusts the lengths inside a message: a damaged one can make it
// allocate gigabytes, which kills the process rather than panicking. checkMessage
// walks the parts of a message the reader sizes allocations by (the schema's field
// lists, a batch's node and buffer lists, the body length) and refuses lengths the
// bytes at hand cannot hold. Reads past the end panic inside it and are recovered by
// decodeBatch.

// Slots (vtable offsets) of the Arrow format's flatbuffer tables (Schema.fbs,
// Message.fbs).
const (
	msgHeaderType = 6
	msgHeader     = 8
	msgBodyLength = 10
	msgMetadata   = 12

	schemaFields   = 6
	schemaMetadata = 8

	fieldChildren = 14
	fieldMetadata = 16

	batchNodes    = 6
	batchBuffers  = 8
	batchVariadic = 12

	dictionaryData = 6

	headerSchema     = 1
	headerDictionary = 2
	headerBatch      = 3

	maxFieldDepth = 64
)

var errDamaged = errors.New("damaged Arrow message")

// checkMessage checks one encapsulated IPC message; body is how many bytes follow
// its metadata in the input.
func checkMessage(msg []byte) error {
	meta, rest, err := splitMessage(msg)
	if err != nil {
		return err
	}
	t := &flatbuffers.Table{Bytes: meta, Pos: flatbuffers.GetUOffsetT(meta)}
	if n := t.GetInt64Slot(msgBodyLength, 0); n < 0 || n > int64(rest) {
		return fmt.Errorf("%w: body of %d bytes, %d at hand", errDamaged, n, rest)
	}
	if err := checkTables(t, msgMetadata); err != nil {
		return err
	}
	header, ok := union(t, msgHeader)
	if !ok {
		return nil
	}
	switch t.GetByteSlot(msgHeaderType, 0) {
	case headerSchema:
		if err := checkTables(header, schemaMetadata); err != nil {
			return err
		}
		return checkFields(header, schemaFields, 0)
	case headerDictionary:
		if data, ok := union(header, dictionaryData); ok {
			return checkBatch(data)
		}
	case headerBatch:
		return checkBatch(header)
	}
	return nil
}

// splitMessage returns a message's flatbuffer metadata and the number of bytes
// after it.
func splitMessage(msg []byte) ([]byte, int, error) {
	if len(msg) >= 4 && binary.LittleEndian.Uint32(msg) == 0xFFFFFFFF {
		msg = msg[4:]
	}
	if len(msg) < 4 {
		return nil, 0, fmt.Errorf("%w: %d bytes", errDamaged, len(msg))
	}
	n := int(int32(binary.LittleEndian.Uint32(msg)))
	if n < 4 || n > len(msg)-4 {
		return nil, 0, fmt.Errorf("%w: metadata of %d bytes in %d", errDamaged, n, len(msg))
	}
	return msg[4 : 4+n], len(msg) - 4 - n, nil
}

// union returns the table a slot points to.
func union(t *flatbuffers.Table, slot flatbuffers.VOffsetT) (*flatbuffers.Table, bool) {
	o := flatbuffers.UOffsetT(t.Offset(slot))
	if o == 0 {
		return nil, false
	}
	return &flatbuffers.Table{Bytes: t.Bytes, Pos: t.Indirect(t.Pos + o)}, true
}

// vector returns the start and length of the vector in slot, checking that
// elements of size bytes fit in the buffer; ok is false when the slot is empty.
func vector(t *flatbuffers.Table, slot flatbuffers.VOffsetT, size int) (
	flatbuffers.UOffsetT, int, bool, error) {
	o := flatbuffers.UOffsetT(t.Offset(slot))
	if o == 0 {
		return 0, 0, false, nil
	}
	start, n := t.Vector(o), t.VectorLen(o)
	if n < 0 || int(start) > len(t.Bytes) || n > (len(t.Bytes)-int(start))/size {
		return 0, 0, false, fmt.Errorf("%w: list of %d entries in %d bytes", errDamaged, n,
			len(t.Bytes))
	}
	return start, n, true, nil
}

// checkTables checks a vector of tables (offsets of 4 bytes each).
func checkTables(t *flatbuffers.Table, slot flatbuffers.VOffsetT) error {
	_, _, _, err := vector(t, slot, 4)
	return err
}

// checkFields checks a list of fields and, recursively, their children.
func checkFields(t *flatbuffers.Table, slot flatbuffers.VOffsetT, depth int) error {
	if depth > maxFieldDepth {
		return fmt.Errorf("%w: fields nested deeper than %d", errDamaged, maxFieldDepth)
	}
	start, n, ok, err := vector(t, slot, 4)
	if err != nil || !ok {
		return err
	}
	for i := range n {
		at := start + flatbuffers.UOffsetT(4*i)
		f := &flatbuffers.Table{Bytes: t.Bytes, Pos: at + flatbuffers.GetUOffsetT(t.Bytes[at:])}
		if err := checkTables(f, fieldMetadata); err != nil {
			return err
		}
		if err := checkFields(f, fieldChildren, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// checkBatch checks a record batch's node, buffer and variadic-count lists.
func checkBatch(t *flatbuffers.Table) error {
	for _, v := range []struct {
		slot flatbuffers.VOffsetT
		size int
	}{{batchNodes, 16}, {batchBuffers, 16}, {batchVariadic, 8}} {
		if _, _, _, err := vector(t, v.slot, v.size); err != nil {
			return err
		}
	}
	return nil
}

// boundedAllocator refuses, by panicking (recovered by decodeBatch), to hand out
// more than limit bytes in all: a damaged batch can declare buffers, such as
// compressed ones, far larger than the bytes it came in.
type boundedAllocator struct {
	limit, used int
}

// batchAllocator returns an allocator for decoding n input bytes. Uncompressed
// buffers are slices of the input or a copy of it; the factor leaves room for
// decompression and for the padding of small buffers.
func batchAllocator(n int) *boundedAllocator {
	return &boundedAllocator{limit: 64*n + 1<<20}
}

func (a *boundedAllocator) grow(size int) {
	if size < 0 || size > a.limit-a.used {
		panic(fmt.Sprintf("allocation of %d bytes past the %d-byte bound", size, a.limit))
	}
	a.used += size
}

// Allocate implements memory.Allocator.
func (a *boundedAllocator) Allocate(size int) []byte {
	a.grow(size)
	return memory.DefaultAllocator.Allocate(size)
}

// Reallocate implements memory.Allocator.
func (a *boundedAllocator) Reallocate(size int, b []byte) []byte {
	a.grow(size - len(b))
	return memory.DefaultAllocator.Reallocate(size, b)
}

// Free implements memory.Allocator.
func (a *boundedAllocator) Free(b []byte) {
	a.used -= len(b)
	memory.DefaultAllocator.Free(b)
}
