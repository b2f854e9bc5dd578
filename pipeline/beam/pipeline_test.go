package beam

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"google.golang.org/protobuf/proto"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/wire"
)

func TestMain(m *testing.M) {
	beam.Init()
	m.Run()
}

// t0 is the minute-aligned start of the recorded stream.
var t0 = time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)

// recordedStream is a stream as Pub/Sub would deliver it: three athletes, 40 minutes
// of readings every 30 s (heart rate and skin temperature from the watch, air
// temperature and humidity from a weather station, a drink now and then), delivered
// out of event-time order, with a duplicate, an out-of-range reading and a message
// that is not a reading. It returns the messages and the valid readings in event-time
// order.
func recordedStream(t *testing.T) (msgs [][]byte, valid []features.Reading) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, athlete := range []string{"a-1", "a-2", "a-3"} {
		base := 110 + rng.Float64()*20
		for i := range 80 {
			at := t0.Add(time.Duration(i)*30*time.Second + time.Duration(rng.IntN(900))*
				time.Millisecond)
			r := features.NewReading(athlete, "watch", at)
			r.Set(features.HeartRate, base+float64(i)*0.6+rng.NormFloat64()*3)
			r.Set(features.SkinTemp, 33+float64(i)*0.03+rng.NormFloat64()*0.1)
			if i%10 == 3 {
				r.Set(features.FluidIntake, 150)
			}
			valid = append(valid, r)

			w := features.NewReading(athlete, "station", at.Add(5*time.Second))
			w.Set(features.AmbientTemp, 29+rng.Float64())
			w.Set(features.Humidity, 55+rng.Float64()*5)
			valid = append(valid, w)
		}
	}
	for i := range valid {
		msgs = append(msgs, encode(t, &valid[i]))
	}
	slices.SortStableFunc(valid, func(a, b features.Reading) int { return a.Time.Compare(b.Time) })

	bad := features.NewReading("a-2", "watch", t0.Add(10*time.Minute+7*time.Second))
	bad.Set(features.HeartRate, 400)
	msgs = append(msgs, msgs[17], encode(t, &bad), []byte("not a reading"))

	// Delivery order: shuffled, as several publishers and redeliveries make it.
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	return msgs, valid
}

func encode(t *testing.T, r *features.Reading) []byte {
	b, err := proto.Marshal(wire.ToProto(r))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// referenceVectors feeds the readings in event-time order to the in-process store
// and takes each athlete's vector at every minute its readings cover: at minute m,
// the store holds exactly the readings up to m.
func referenceVectors(t *testing.T, readings []features.Reading) map[string][]VectorRow {
	ctx := context.Background()
	first, last := map[string]time.Time{}, map[string]time.Time{}
	for _, r := range readings {
		if _, ok := first[r.AthleteID]; !ok {
			first[r.AthleteID] = r.Time
		}
		last[r.AthleteID] = r.Time
	}

	out := map[string][]VectorRow{}
	v := features.NewVector()
	for athlete := range first {
		store := features.NewStore(nil)
		var mine []features.Reading
		for _, r := range readings {
			if r.AthleteID == athlete {
				mine = append(mine, r)
			}
		}
		next := 0
		end := ceilMinute(last[athlete])
		for m := ceilMinute(first[athlete]); !m.After(end); m = m.Add(time.Minute) {
			for ; next < len(mine) && !mine[next].Time.After(m); next++ {
				if _, err := store.Ingest(ctx, mine[next]); err != nil {
					t.Fatal(err)
				}
			}
			if err := store.Vector(ctx, athlete, m, v); err != nil {
				t.Fatal(err)
			}
			out[athlete] = append(out[athlete], vectorRow(v))
		}
	}
	return out
}

func ceilMinute(at time.Time) time.Time {
	if tr := at.Truncate(time.Minute); tr.Equal(at) {
		return at
	}
	return at.Truncate(time.Minute).Add(time.Minute)
}

// memorySink collects what a pipeline run emits, in this process: prism runs the
// DoFns of a Go pipeline in the process that submitted it.
var memorySink struct {
	sync.Mutex
	vectors []VectorRow
	rows    []ReadingRow
}

func collectVector(v VectorRow) {
	memorySink.Lock()
	defer memorySink.Unlock()
	memorySink.vectors = append(memorySink.vectors, v)
}

func collectRow(r ReadingRow) {
	memorySink.Lock()
	defer memorySink.Unlock()
	memorySink.rows = append(memorySink.rows, r)
}

func init() {
	register.Function1x0(collectVector)
	register.Function1x0(collectRow)
}

func TestFeaturesMatchInProcessStore(t *testing.T) {
	msgs, valid := recordedStream(t)

	p, s := beam.NewPipelineWithRoot()
	vectors, rows := Features(s, ParseReadings(s, beam.CreateList(s, msgs)), Options{})
	beam.ParDo0(s, collectVector, vectors)
	beam.ParDo0(s, collectRow, rows)
	res, err := prism.Execute(context.Background(), p)
	if err != nil {
		t.Fatalf("run pipeline on prism: %v", err)
	}

	memorySink.Lock()
	got, gotRows := memorySink.vectors, memorySink.rows
	memorySink.Unlock()

	want := referenceVectors(t, valid)
	byAthlete := map[string][]VectorRow{}
	for _, v := range got {
		byAthlete[v.AthleteID] = append(byAthlete[v.AthleteID], v)
	}
	if len(byAthlete) != len(want) {
		t.Fatalf("vectors of %d athletes, want %d", len(byAthlete), len(want))
	}
	for athlete, wantRows := range want {
		// 40 minutes of readings from 09:00 give the vectors of 09:01 to 09:40, the
		// last with features computed (not all missing).
		if len(wantRows) != 40 || missing(wantRows[39]) == len(wantRows[39].Status) {
			t.Fatalf("%s: reference has %d vectors, the last %d of %d features missing",
				athlete, len(wantRows), missing(wantRows[39]), len(wantRows[39].Status))
		}
		gotRows := byAthlete[athlete]
		slices.SortFunc(gotRows, func(a, b VectorRow) int {
			return int(a.AsOfUnixMilli - b.AsOfUnixMilli)
		})
		if len(gotRows) != len(wantRows) {
			t.Fatalf("%s: %d vectors, want %d (one a minute)", athlete, len(gotRows),
				len(wantRows))
		}
		for i := range wantRows {
			if !sameVector(gotRows[i], wantRows[i]) {
				t.Fatalf("%s at %v: pipeline vector differs from the store's\n got %+v\nwant %+v",
					athlete, time.UnixMilli(wantRows[i].AsOfUnixMilli).UTC(), gotRows[i],
					wantRows[i])
			}
		}
	}

	// Every valid reading reaches the readings sink once: not the duplicate, not the
	// invalid one.
	if len(gotRows) != len(valid) {
		t.Errorf("%d reading rows, want the %d valid readings", len(gotRows), len(valid))
	}
	counted := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		counted[c.Key.Name] += c.Committed
	}
	for _, name := range []string{"readings_rejected", "messages_undecodable"} {
		if counted[name] != 1 {
			t.Errorf("counter %s = %d, want 1 (all: %v)", name, counted[name], counted)
		}
	}
}

// sameVector compares two vectors bit for bit, NaN equal to NaN.
func sameVector(a, b VectorRow) bool {
	if a.AthleteID != b.AthleteID || a.AsOfUnixMilli != b.AsOfUnixMilli ||
		a.FreshestUnixMilli != b.FreshestUnixMilli || a.SchemaVersion != b.SchemaVersion ||
		!slices.Equal(a.Status, b.Status) || len(a.Values) != len(b.Values) {
		return false
	}
	for i := range a.Values {
		if math.Float64bits(a.Values[i]) != math.Float64bits(b.Values[i]) &&
			!(math.IsNaN(a.Values[i]) && math.IsNaN(b.Values[i])) {
			return false
		}
	}
	return true
}

func missing(v VectorRow) int {
	n := 0
	for _, st := range v.Status {
		if features.Status(st) == features.StatusMissing {
			n++
		}
	}
	return n
}
