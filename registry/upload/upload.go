// Package upload checks ONNX models before the registry accepts them, so that a
// broken or hostile file is refused at the door instead of failing, or taking down,
// the servers that load it.
//
// The checks run in order and the first that fails is reported, wrapping
// registry.ErrInvalid and naming what was wrong:
//
//  1. size: the upload is at most Options.MaxBytes;
//  2. format: it parses as an ONNX model, or is a zip or tar archive holding
//     exactly one, whose entries are plain files and folders with relative names
//     that stay inside the archive;
//  3. versions: its IR version and operator sets are ones ONNX Runtime 1.24 runs;
//  4. signature: every declared input and output is in the graph, with the same
//     element type, rank and fixed dimensions;
//  5. external data: tensors that keep their data in other files name files of
//     the same archive, inside the model's folder; their data is then inlined, so
//     the artifact stored is one self-contained ONNX file;
//  6. trial: a child process, under memory and time limits, loads the model with
//     ONNX Runtime and runs it once on zeros.
//
// Checker runs steps 1 to 5 in Prepare and step 6 in Trial, for
// registry.Uploader; Validate runs all six.
package upload

import (
	"context"
	"fmt"
	"time"

	"github.com/hydrocast/hydrocast/registry"
)

// Options configure the checks. The zero value of each field selects its default.
type Options struct {
	// MaxBytes caps the upload, and the total of an archive's unpacked files, in
	// bytes. Zero means registry.DefaultMaxUpload (512 MiB).
	MaxBytes int64

	// Trial configures the trial run in a child process.
	Trial TrialOptions
}

// DefaultOptions returns the options a zero Options stands for, spelled out.
func DefaultOptions() Options {
	return Options{MaxBytes: registry.DefaultMaxUpload, Trial: DefaultTrialOptions()}
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = registry.DefaultMaxUpload
	}
	o.Trial = o.Trial.withDefaults()
	return o
}

// Checker is the registry.Checker for ONNX models. Its zero value uses the default
// options.
type Checker struct {
	Options Options
}

var _ registry.Checker = Checker{}

// Prepare runs the static checks (steps 1 to 5) and returns the self-contained
// ONNX file to store.
func (c Checker) Prepare(_ context.Context, upload []byte,
	sig registry.Signature) ([]byte, error) {
	return Prepare(upload, sig, c.Options)
}

// Trial runs the model in a child process (step 6) and returns an error wrapping
// registry.ErrInvalid when it fails to load or run.
func (c Checker) Trial(ctx context.Context, artifact []byte, _ registry.Signature) error {
	_, err := TrialBytes(ctx, artifact, c.Options.Trial)
	return err
}

// Validate runs every check on an upload, an ONNX file or an archive holding one,
// and returns the self-contained ONNX file that passed them.
func Validate(ctx context.Context, upload []byte, sig registry.Signature,
	opts Options) ([]byte, error) {
	artifact, err := Prepare(upload, sig, opts)
	if err != nil {
		return nil, err
	}
	if _, err := TrialBytes(ctx, artifact, opts.Trial); err != nil {
		return nil, err
	}
	return artifact, nil
}

// Prepare runs the static checks (steps 1 to 5) on an upload and returns the
// self-contained ONNX file to store.
func Prepare(upload []byte, sig registry.Signature, opts Options) ([]byte, error) {
	opts = opts.withDefaults()
	if int64(len(upload)) > opts.MaxBytes {
		return nil, invalid("upload of %d bytes exceeds the limit of %d", len(upload),
			opts.MaxBytes)
	}
	if len(upload) == 0 {
		return nil, invalid("empty upload")
	}

	b, err := unpack(upload, opts.MaxBytes)
	if err != nil {
		return nil, err
	}
	m, err := parse(b.files[b.model])
	if err != nil {
		return nil, err
	}
	if err := checkVersions(m); err != nil {
		return nil, err
	}
	if err := checkSignature(m, sig); err != nil {
		return nil, err
	}
	if err := inlineExternalData(m, b, opts.MaxBytes); err != nil {
		return nil, err
	}
	return marshal(m)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", registry.ErrInvalid, fmt.Sprintf(format, args...))
}

// DefaultTrialOptions returns the options a zero TrialOptions stands for.
func DefaultTrialOptions() TrialOptions {
	return TrialOptions{
		Command:     nil,
		MemoryBytes: 4 << 30,
		Timeout:     60 * time.Second,
	}
}
