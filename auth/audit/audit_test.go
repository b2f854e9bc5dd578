package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func fixedNow() time.Time { return time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC) }

// writeRecords opens a log in a fresh folder, writes n records and closes it.
func writeRecords(t *testing.T, n int, opts Options) (path string, head string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i := range n {
		err := l.Record(Record{Event: EventAuthzDenied, Principal: fmt.Sprintf("p%d", i),
			Method: "/hydrocast.v1.RegistryService/SetAlias", Outcome: OutcomeDenied,
			Remote: "10.0.0.7", RequestID: fmt.Sprintf("req-%d", i)})
		if err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
	head = l.Head()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return path, head
}

func TestVerifyIntactChain(t *testing.T) {
	for _, sync := range []time.Duration{0, time.Millisecond, -1} {
		t.Run(fmt.Sprint("sync every ", sync), func(t *testing.T) {
			path, head := writeRecords(t, 5, Options{SyncEvery: sync, Now: fixedNow})

			n, gotHead, err := VerifyFile(path)
			if err != nil || n != 5 || gotHead != head {
				t.Fatalf("VerifyFile = %d, %s, %v; want 5, %s, nil", n, gotHead, err, head)
			}
		})
	}
}

func TestRecordFields(t *testing.T) {
	path, _ := writeRecords(t, 1, Options{Now: fixedNow})
	data, _ := os.ReadFile(path)

	line := string(data)
	for _, want := range []string{`"seq":1`, `"time":"2026-07-01T12:00:00Z"`,
		`"event":"authz_denied"`, `"principal":"p0"`, `"outcome":"denied"`,
		`"remote":"10.0.0.7"`, `"request_id":"req-0"`, `"prev":"` + Genesis + `"`} {
		if !strings.Contains(line, want) {
			t.Errorf("record lacks %s: %s", want, line)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestReopenContinuesChain(t *testing.T) {
	path, _ := writeRecords(t, 2, Options{})
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	err = l.Record(Record{Event: EventCall, Method: "m", Outcome: OutcomeAllowed})
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	l.Close()

	n, _, err := VerifyFile(path)
	if err != nil || n != 3 {
		t.Fatalf("VerifyFile = %d, %v; want 3 records, nil", n, err)
	}
}

// lines splits a file into its lines, each without the newline.
func lines(data []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

func join(ls [][]byte) []byte {
	return append(bytes.Join(ls, []byte("\n")), '\n')
}

// rehash recomputes a line's own hash after an edit, as a forger without the rest of
// the chain would.
func rehash(line []byte) []byte {
	i := bytes.LastIndex(line, []byte(hashField))
	body := line[:i]
	var r Record
	r, _, _, _ = decode(line)
	return []byte(string(body) + hashField + chainHash(r.Prev, body) + `"}`)
}

func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(ls [][]byte) [][]byte
		wantLine int
	}{
		{"edited outcome", func(ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`"denied"`), []byte(`"allowed"`), 1)
			return ls
		}, 2},
		{"edited and rehashed", func(ls [][]byte) [][]byte {
			ls[1] = rehash(bytes.Replace(ls[1], []byte(`"p1"`), []byte(`"p9"`), 1))
			return ls
		}, 3},
		{"removed record", func(ls [][]byte) [][]byte {
			return append(ls[:1], ls[2:]...)
		}, 2},
		{"swapped records", func(ls [][]byte) [][]byte {
			ls[1], ls[2] = ls[2], ls[1]
			return ls
		}, 2},
		{"removed first record", func(ls [][]byte) [][]byte { return ls[1:] }, 1},
		{"garbage line", func(ls [][]byte) [][]byte {
			ls[3] = []byte("{}")
			return ls
		}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := writeRecords(t, 4, Options{})
			data, _ := os.ReadFile(path)

			_, _, err := Verify(bytes.NewReader(join(tc.edit(lines(data)))))

			var ve *VerifyError
			if !errors.Is(err, ErrTampered) || !errors.As(err, &ve) {
				t.Fatalf("Verify error = %v, want ErrTampered", err)
			}
			if ve.Line != tc.wantLine {
				t.Errorf("broken at line %d, want %d", ve.Line, tc.wantLine)
			}
		})
	}
}

func TestConcurrentRecordsKeepChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, Options{SyncEvery: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				_ = l.Record(Record{Event: EventCall, Method: fmt.Sprint(w, "/", i),
					Outcome: OutcomeAllowed})
			}
		})
	}
	wg.Wait()
	l.Close()

	n, _, err := VerifyFile(path)
	if err != nil || n != 400 {
		t.Fatalf("VerifyFile = %d, %v; want 400, nil", n, err)
	}
}

func TestOpenRefusesTornTail(t *testing.T) {
	path, _ := writeRecords(t, 2, Options{})
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-10], 0o600)

	if _, err := Open(path, Options{}); !errors.Is(err, ErrTornTail) {
		t.Fatalf("Open error = %v, want ErrTornTail", err)
	}
}

func TestRecordAfterClose(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "a"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := l.Record(Record{Event: EventCall}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Record after Close = %v, want ErrClosed", err)
	}
}

func FuzzVerify(f *testing.F) {
	valid, _, _ := encode(Record{Seq: 1, Prev: Genesis, Event: EventCall, Method: "/m"})
	f.Add(valid)
	f.Add([]byte(`{"seq":1,"prev":"` + Genesis + `","hash":"00"}` + "\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`,"hash":"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, _, err := Verify(bytes.NewReader(data))
		if err == nil && n > 0 && !bytes.Contains(data, []byte(hashField)) {
			t.Fatalf("verified %d records without a hash field", n)
		}
	})
}

func BenchmarkRecordNoSync(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "a"), Options{SyncEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := Record{Event: EventCall, Principal: "svc", Method: "/m", Outcome: OutcomeAllowed}
	for b.Loop() {
		if err := l.Record(r); err != nil {
			b.Fatal(err)
		}
	}
}
