package pseudonym

import (
	"context"
	"log/slog"
)

// Key is the attribute name whose values the slog helpers pseudonymize. The project's
// logging convention names an athlete's id athlete_id everywhere.
const Key = "athlete_id"

// ReplaceAttr pseudonymizes an attribute named Key, at any group depth, and returns
// every other attribute unchanged. Its signature fits slog.HandlerOptions.ReplaceAttr,
// for handlers built in this process; NewHandler covers handlers built elsewhere.
func (p *Pseudonymizer) ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	return p.attr(a)
}

// NewHandler wraps next so that every attribute named Key, whether given to the log
// call, bound earlier with With or nested in a group, reaches next as a pseudonym.
func NewHandler(next slog.Handler, p *Pseudonymizer) slog.Handler {
	return &handler{next: next, p: p}
}

type handler struct {
	next slog.Handler
	p    *Pseudonymizer
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.p.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.p.attr(a)
	}
	return &handler{next: h.next.WithAttrs(clean), p: h.p}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), p: h.p}
}

// attr returns a with every Key attribute inside it pseudonymized. Values are resolved
// first, so that a LogValuer cannot smuggle a raw id past the check.
func (p *Pseudonymizer) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		group := v.Group()
		clean := make([]slog.Attr, len(group))
		for i, g := range group {
			clean[i] = p.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	}
	if a.Key != Key {
		return slog.Attr{Key: a.Key, Value: v}
	}
	return slog.String(a.Key, p.Pseudonymize(v.String()))
}
