package registryrpc

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/registry"
)

// WatchRegistry sends the registry's revision now and after every change, with the
// aliases that moved since the previous event, until the client cancels.
func (s *Server) WatchRegistry(_ *hydrocastv1.WatchRequest,
	stream hydrocastv1.RegistryService_WatchRegistryServer) error {
	ctx := stream.Context()
	rev, err := s.reg.Revision(ctx)
	if err != nil {
		return s.statusOf(err)
	}
	aliases, err := s.aliases(ctx)
	if err != nil {
		return s.statusOf(err)
	}
	if err := stream.Send(&hydrocastv1.RegistryEvent{Revision: rev}); err != nil {
		return err
	}

	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now, err := s.reg.Revision(ctx)
		if err != nil {
			return s.statusOf(err)
		}
		if now == rev {
			continue
		}
		next, err := s.aliases(ctx)
		if err != nil {
			return s.statusOf(err)
		}
		ev := &hydrocastv1.RegistryEvent{Revision: now, AliasChanges: diff(aliases, next)}
		if err := stream.Send(ev); err != nil {
			return err
		}
		rev, aliases = now, next
	}
}

// aliasKey names one alias of one model.
type aliasKey struct{ model, alias string }

// aliases returns where every alias points.
func (s *Server) aliases(ctx context.Context) (map[aliasKey]int, error) {
	models, err := s.reg.Models(ctx)
	if err != nil {
		return nil, err
	}
	out := map[aliasKey]int{}
	for _, m := range models {
		for a, n := range m.Aliases {
			out[aliasKey{m.Name, a}] = n
		}
	}
	return out, nil
}

// diff lists the aliases created, moved or removed from before to after, sorted.
func diff(before, after map[aliasKey]int) []*hydrocastv1.AliasChange {
	var out []*hydrocastv1.AliasChange
	for k := range mapsUnion(before, after) {
		if from, to := before[k], after[k]; from != to {
			out = append(out, &hydrocastv1.AliasChange{Model: k.model, Alias: k.alias,
				FromVersion: int64(from), ToVersion: int64(to)})
		}
	}
	slices.SortFunc(out, func(a, b *hydrocastv1.AliasChange) int {
		if c := strings.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		return strings.Compare(a.Alias, b.Alias)
	})
	return out
}

func mapsUnion(a, b map[aliasKey]int) map[aliasKey]int {
	u := make(map[aliasKey]int, len(a)+len(b))
	maps.Copy(u, a)
	maps.Copy(u, b)
	return u
}

// VersionProto converts a registry version to its message.
func VersionProto(v registry.Version) *hydrocastv1.ModelVersion {
	return &hydrocastv1.ModelVersion{Model: v.Model, Number: int64(v.Number),
		Status: string(v.Status), StatusReason: v.StatusReason,
		Description: v.Description, Tags: v.Tags, ArtifactSha256: v.Digest,
		ArtifactSizeBytes: v.Size, Created: timestamppb.New(v.Created),
		Aliases: v.Aliases}
}

// VersionFromProto converts a version message back to the registry's type; the
// fields the message lacks (signature, card, metrics, lineage) stay empty.
func VersionFromProto(v *hydrocastv1.ModelVersion) registry.Version {
	return registry.Version{Model: v.GetModel(), Number: int(v.GetNumber()),
		Status: registry.Status(v.GetStatus()), StatusReason: v.GetStatusReason(),
		Description: v.GetDescription(), Tags: v.GetTags(),
		Digest: v.GetArtifactSha256(), Size: v.GetArtifactSizeBytes(),
		Created: v.GetCreated().AsTime(), Aliases: v.GetAliases()}
}
