package fallback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/redisstore"
)

const redisAddr = "127.0.0.1:6379"

// Modes of the proxy.
const (
	proxyUp     = "up"     // forwards to Redis
	proxyRefuse = "refuse" // closes every connection at once
	proxyStall  = "stall"  // accepts connections and never answers
)

// proxy stands between the store and Redis on loopback, so that a test can take
// Redis away and give it back.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  string                // guarded by mu
	conns map[net.Conn]struct{} // guarded by mu
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, mode: proxyUp, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.set(proxyRefuse)
	})
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *proxy) handle(c net.Conn) {
	p.mu.Lock()
	mode := p.mode
	if mode != proxyRefuse {
		p.conns[c] = struct{}{}
	}
	p.mu.Unlock()
	switch mode {
	case proxyRefuse:
		c.Close()
		return
	case proxyStall:
		return // held open, unanswered, until the mode changes
	}

	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	go func() {
		io.Copy(up, c)
		up.Close()
	}()
	io.Copy(c, up)
	c.Close()
}

// set changes the mode, cutting every connection open so far.
func (p *proxy) set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func TestRedisGoesAway(t *testing.T) {
	direct := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer direct.Close()
	if err := direct.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("Redis at %s unreachable (set CI to fail instead): %v", redisAddr, err)
		}
		t.Fatalf("Redis at %s unreachable: %v", redisAddr, err)
	}

	for _, mode := range []string{proxyRefuse, proxyStall} {
		t.Run(mode, func(t *testing.T) {
			p := startProxy(t, redisAddr)
			rdb := redis.NewClient(&redis.Options{Addr: p.ln.Addr().String(),
				ContextTimeoutEnabled: true, DialTimeout: time.Second, MaxRetries: 1})
			defer rdb.Close()
			prefix := fmt.Sprintf("hydrocast-test:%016x:", rand.Uint64())
			rs, err := redisstore.New(rdb, &redisstore.Options{Prefix: prefix,
				Window: features.DefaultWindowOptions()})
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup(direct, prefix)
			s := New(rs, &Options{Timeout: 200 * time.Millisecond})

			goesAwayAndBack(t, s, p, mode)
		})
	}
}

// goesAwayAndBack warms the store up, takes Redis away, checks that lookups go on
// answering stale and that writes fail, then gives Redis back and checks that
// everything recovers.
func goesAwayAndBack(t *testing.T, s *Store, p *proxy, mode string) {
	ctx := context.Background()
	last := session(t, s, "a1")
	fresh := features.NewVector()
	if err := s.Vector(ctx, "a1", last, fresh); err != nil {
		t.Fatal(err)
	}

	p.set(mode)
	later := last.Add(20 * time.Second)
	for i := range 3 {
		got := features.NewVector()
		start := time.Now()
		if err := s.Vector(ctx, "a1", later, got); err != nil {
			t.Fatalf("lookup %d with Redis gone: %v, want the last known vector", i, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("lookup %d with Redis gone took %v", i, took)
		}
		assertStaleCopy(t, got, fresh, later)
	}
	err := s.Vector(ctx, "never-seen", later, features.NewVector())
	if err == nil || errors.Is(err, features.ErrUnknownAthlete) {
		t.Errorf("lookup of an athlete never seen: %v, want Redis's error", err)
	}
	r := features.NewReading("a1", "watch", later)
	r.Set(features.HeartRate, 177)
	wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := s.Ingest(wctx, r); err == nil {
		t.Error("Ingest succeeded with Redis gone")
	}

	p.set(proxyUp)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Ingest(ctx, r)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ingest still failing after Redis came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := features.NewVector()
	if err := s.Vector(ctx, "a1", later, got); err != nil {
		t.Fatal(err)
	}
	if v, st, _ := got.Get("heart_rate_bpm_last"); v != 177 || st != features.StatusPresent {
		t.Errorf("after Redis came back heart_rate_bpm_last = %v (%v), want 177 present", v, st)
	}
}

func cleanup(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}
