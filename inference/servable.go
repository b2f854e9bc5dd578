package inference

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry"
)

// CheckServable reports, before a version is stored, whether hydrocast's servers
// could serve a model of this name and signature: every feature an input reads must
// be in the current feature schema, and a model named after one of the three
// families must have the family's one input and every output the family declares.
// The error wraps registry.ErrInvalid and names what is wrong, so that an upload is
// refused instead of becoming a ready version that no server can load.
func CheckServable(model string, sig registry.Signature) error {
	schema := features.CurrentSchema()
	var unknown []string
	for _, in := range sig.Inputs {
		for _, f := range in.Features {
			if _, ok := schema.Index(f); !ok {
				unknown = append(unknown, f)
			}
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w: unknown feature %s (hydrocast models features lists "+
			"every feature an input may read)",
			registry.ErrInvalid, quoteList(unknown))
	}
	fam, ok := models.FamilyByName(model)
	if !ok {
		return nil
	}
	if len(sig.Inputs) != 1 || len(sig.Inputs[0].Features) == 0 {
		return fmt.Errorf("%w: model %s is served by feature name: want one input "+
			"that reads features (--inputs-from-features), got %d inputs",
			registry.ErrInvalid, model, len(sig.Inputs))
	}
	var errs []error
	for _, o := range fam.Outputs {
		if !hasOutput(sig.Outputs, o.Name) {
			errs = append(errs, fmt.Errorf("no output %q (%s, %s)", o.Name, o.Doc, o.Unit))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: model %s must have every output of its family: %w",
			registry.ErrInvalid, model, errors.Join(errs...))
	}
	return nil
}

func hasOutput(outs []registry.Tensor, name string) bool {
	for _, o := range outs {
		if o.Name == name {
			return true
		}
	}
	return false
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
