package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	osuser "os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/upload"
)

// modelsFlags are the flags every models subcommand shares.
type modelsFlags struct {
	as   string // principal for the audit trail
	json bool
}

func newModelsCommand(g *globals) *cobra.Command {
	f := &modelsFlags{}
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List, inspect, upload and alias model versions; split their traffic",
		Long: `Models works on the model registry: the models trainers publish, their numbered
versions, the aliases (production, staging, …) that servers resolve, and the traffic
policies that split a model's requests between versions.

The registry is <home>/registry unless --registry (env HYDROCAST_REGISTRY) names
another: a folder, file:///folder, sqlite:///path/registry.db, or
postgres://user@host/db?artifacts=gs://bucket/prefix for a shared one.

Changes are recorded in the audit trail under --as, by default $USER@hostname.
Commands that list things print a table, or JSON with --json. A model, version or
alias that does not exist makes the command fail with exit status 1.`,
		Example: `  hydrocast models list
  hydrocast models show sweat-rate --alias production
  hydrocast models upload sweat.onnx --name sweat-rate \
    --inputs-from-features heart_rate_bpm_mean_15m,skin_temp_c_mean_15m --alias staging
  hydrocast models alias set sweat-rate production 4 --reason "beat v3 on holdout"
  hydrocast models rollback sweat-rate --reason "latency regression"
  hydrocast models traffic set sweat-rate --split 3=90,4=10 --reason "try v4"`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.as, "as", "", "who makes the change, for the audit trail; "+
		"default $USER@hostname")
	pf.BoolVar(&f.json, "json", false, "print JSON instead of tables, for scripts")

	cmd.AddCommand(
		newModelsListCommand(g, f),
		newModelsShowCommand(g, f),
		newModelsHistoryCommand(g, f),
		newModelsAliasCommand(g, f),
		newModelsRollbackCommand(g, f),
		newModelsTrafficCommand(g, f),
		newModelsUploadCommand(g, f),
		newModelsTrialRunCommand(),
		newModelsFeaturesCommand(f),
	)
	return cmd
}

// withModelRegistry opens the registry the flags name, runs fn on it and closes it.
func withModelRegistry(ctx context.Context, g *globals, f *modelsFlags,
	fn func(*registry.Registry) error) error {
	reg, err := openRegistry(ctx, g)
	if err != nil {
		return err
	}
	return errors.Join(fn(reg), reg.Close())
}

// principal returns the identity that changes are recorded under.
func (f *modelsFlags) principal() string {
	if f.as != "" {
		return f.as
	}
	user := os.Getenv("USER")
	if user == "" {
		if u, err := osuser.Current(); err == nil {
			user = u.Username
		}
	}
	if user == "" {
		return "cli"
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return user + "@" + host
	}
	return user
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under a header, in aligned columns.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func newModelsListCommand(g *globals, f *modelsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the models with their latest version and aliases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withModelRegistry(cmd.Context(), g, f, func(r *registry.Registry) error {
				models, err := r.Models(cmd.Context())
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), models)
				}
				var rows [][]string
				for _, m := range models {
					rows = append(rows, []string{m.Name, strconv.Itoa(m.Latest),
						aliasList(m.Aliases), m.Description})
				}
				return table(cmd.OutOrStdout(),
					[]string{"MODEL", "LATEST", "ALIASES", "DESCRIPTION"}, rows)
			})
		},
	}
}

// aliasList formats aliases as "production=3 staging=4", sorted by alias.
func aliasList(aliases map[string]int) string {
	var parts []string
	for _, a := range slices.Sorted(maps.Keys(aliases)) {
		parts = append(parts, fmt.Sprintf("%s=%d", a, aliases[a]))
	}
	return strings.Join(parts, " ")
}

func newModelsShowCommand(g *globals, f *modelsFlags) *cobra.Command {
	var number int
	var alias string
	var card bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a model and its versions, or one version in detail",
		Long: `Show prints a model and the list of its versions or, with --version or --alias,
one version in detail: status, artifact digest, signature with the features each
input reads, metrics, tags, lineage and aliases. --card prints the version's model
card instead (Markdown: intended use, data, evaluation, limitations); --json gives
the card's JSON document with the rest.

It fails with exit status 1 when the model, version or alias does not exist, so
that a script can ask whether, say, sweat-rate has a production version.`,
		Example: `  hydrocast models show sweat-rate
  hydrocast models show sweat-rate --version 3 --json
  hydrocast models show sweat-rate --alias production --card
  hydrocast models show sweat-rate --alias production || hydrocast train`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if number != 0 && alias != "" {
				return errors.New("give --version or --alias, not both")
			}
			if card && number == 0 && alias == "" {
				return errors.New("--card shows one version's card: give --version or --alias")
			}
			return withModelRegistry(cmd.Context(), g, f, func(r *registry.Registry) error {
				return showModel(cmd.Context(), r, f, cmd.OutOrStdout(), args[0],
					number, alias, card)
			})
		},
	}
	cmd.Flags().IntVar(&number, "version", 0, "show this version")
	cmd.Flags().StringVar(&alias, "alias", "", "show the version this alias points at")
	cmd.Flags().BoolVar(&card, "card", false, "print the version's model card (Markdown)")
	return cmd
}

func showModel(ctx context.Context, r *registry.Registry, f *modelsFlags, w io.Writer,
	name string, number int, alias string, card bool) error {
	m, err := r.Model(ctx, name)
	if errors.Is(err, registry.ErrNotFound) {
		return fmt.Errorf("no model named %q in the registry", name)
	}
	if err != nil {
		return err
	}

	var v registry.Version
	switch {
	case alias != "":
		v, err = r.Resolve(ctx, name, alias)
		if errors.Is(err, registry.ErrNotFound) {
			return fmt.Errorf("model %s has no alias %q", name, alias)
		}
	case number != 0:
		v, err = r.Version(ctx, name, number)
		if errors.Is(err, registry.ErrNotFound) {
			return fmt.Errorf("model %s has no version %d (latest is %d)", name, number,
				m.Latest)
		}
	default:
		return showVersions(ctx, r, f, w, m)
	}
	if err != nil {
		return err
	}
	switch {
	case f.json:
		return printJSON(w, v)
	case card && v.Card.Markdown == "":
		return fmt.Errorf("%s version %d has no model card (%s made it)", name, v.Number,
			orDash(v.Lineage.Generator))
	case card:
		_, err := io.WriteString(w, v.Card.Markdown)
		return err
	}
	return describeVersion(w, v)
}

// showVersions prints a model's summary and the table of its versions.
func showVersions(ctx context.Context, r *registry.Registry, f *modelsFlags, w io.Writer,
	m registry.Model) error {
	versions, err := r.Versions(ctx, m.Name)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, struct {
			registry.Model
			Versions []registry.Version `json:"versions"`
		}{m, versions})
	}

	fmt.Fprintf(w, "model:    %s\ncreated:  %s\naliases:  %s\n", m.Name, when(m.Created),
		aliasList(m.Aliases))
	if m.Description != "" {
		fmt.Fprintf(w, "about:    %s\n", m.Description)
	}
	fmt.Fprintln(w)
	var rows [][]string
	for _, v := range versions {
		rows = append(rows, []string{strconv.Itoa(v.Number), string(v.Status),
			when(v.Created), strings.Join(v.Aliases, " "), v.Lineage.RunID, v.Description})
	}
	return table(w, []string{"VERSION", "STATUS", "CREATED", "ALIASES", "RUN", "DESCRIPTION"},
		rows)
}

// describeVersion prints one version for people.
func describeVersion(w io.Writer, v registry.Version) error {
	fmt.Fprintf(w, "model:     %s\nversion:   %d\nstatus:    %s\n", v.Model, v.Number, v.Status)
	if v.StatusReason != "" {
		fmt.Fprintf(w, "reason:    %s\n", v.StatusReason)
	}
	fmt.Fprintf(w, "created:   %s\naliases:   %s\nartifact:  sha256:%s (%d bytes)\n",
		when(v.Created), strings.Join(v.Aliases, " "), v.Digest, v.Size)
	if v.Description != "" {
		fmt.Fprintf(w, "about:     %s\n", v.Description)
	}
	l := v.Lineage
	fmt.Fprintf(w, "lineage:   run %s, data %s, code %s, seed %d, generator %s\n",
		orDash(l.RunID), orDash(l.DataFingerprint), orDash(l.CodeVersion), l.Seed,
		orDash(l.Generator))

	fmt.Fprintln(w)
	var rows [][]string
	for _, t := range v.Signature.Inputs {
		rows = append(rows, []string{"input", t.Name, t.Datatype, fmt.Sprint(t.Shape),
			strings.Join(t.Features, ",")})
	}
	for _, t := range v.Signature.Outputs {
		rows = append(rows, []string{"output", t.Name, t.Datatype, fmt.Sprint(t.Shape), ""})
	}
	if err := table(w, []string{"TENSOR", "NAME", "TYPE", "SHAPE", "FEATURES"}, rows); err != nil {
		return err
	}

	rows = nil
	for _, k := range slices.Sorted(maps.Keys(v.Metrics)) {
		rows = append(rows, []string{"metric", k, strconv.FormatFloat(v.Metrics[k], 'g', -1, 64)})
	}
	for _, k := range slices.Sorted(maps.Keys(v.Tags)) {
		rows = append(rows, []string{"tag", k, v.Tags[k]})
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return table(w, []string{"KIND", "NAME", "VALUE"}, rows)
}

func when(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newModelsHistoryCommand(g *globals, f *modelsFlags) *cobra.Command {
	var alias string
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List the moves of a model's aliases, newest first",
		Example: `  hydrocast models history sweat-rate
  hydrocast models history sweat-rate --alias production --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withModelRegistry(cmd.Context(), g, f, func(r *registry.Registry) error {
				events, err := r.History(cmd.Context(), args[0], alias)
				if errors.Is(err, registry.ErrNotFound) {
					return fmt.Errorf("no model named %q in the registry", args[0])
				}
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), events)
				}
				var rows [][]string
				for _, e := range events {
					kind, from := "move", strconv.Itoa(e.From)
					if e.Rollback {
						kind = "rollback"
					}
					if e.From == 0 {
						kind, from = "create", "-"
					}
					rows = append(rows, []string{when(e.Time), e.Alias, kind,
						from, strconv.Itoa(e.To), e.Principal, e.Reason})
				}
				return table(cmd.OutOrStdout(), []string{"TIME", "ALIAS", "KIND", "FROM",
					"TO", "BY", "REASON"}, rows)
			})
		},
	}
	cmd.Flags().StringVar(&alias, "alias", "", "only this alias; default all")
	return cmd
}

func newModelsAliasCommand(g *globals, f *modelsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alias",
		Short: "Move a model's aliases",
	}
	var reason string
	set := &cobra.Command{
		Use:   "set NAME ALIAS VERSION",
		Short: "Point an alias at a ready version, creating the alias if needed",
		Long: `Set points ALIAS of model NAME at VERSION, which must be ready, in one atomic
step, and records the move with its reason in the alias's history.`,
		Example: `  hydrocast models alias set sweat-rate production 4 \
    --reason "beat v3 on holdout"`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			number, err := strconv.Atoi(args[2])
			if err != nil {
				return fmt.Errorf("version %q is not a number", args[2])
			}
			ctx := registry.WithPrincipal(cmd.Context(), f.principal())
			return withModelRegistry(ctx, g, f, func(r *registry.Registry) error {
				e, err := r.SetAlias(ctx, registry.AliasMove{Model: args[0],
					Alias: args[1], Version: number, Reason: reason})
				if err != nil {
					return explainAliasError(ctx, r, err, args[0], number)
				}
				return printMove(cmd.OutOrStdout(), f, e)
			})
		},
	}
	set.Flags().StringVar(&reason, "reason", "", "why the alias moves (required)")
	set.MarkFlagRequired("reason")
	cmd.AddCommand(set)
	return cmd
}

// explainAliasError turns the errors people meet when moving an alias into plain
// sentences.
func explainAliasError(ctx context.Context, r *registry.Registry, err error, model string,
	number int) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return missing(ctx, r, model, fmt.Errorf("model %s has no version %d", model, number))
	case errors.Is(err, registry.ErrConflict):
		return fmt.Errorf("version %d of %s cannot be aliased: %w", number, model, err)
	}
	return err
}

// missing returns the error to show when something of model was not found: that
// the model itself is absent, when it is, or else what.
func missing(ctx context.Context, r *registry.Registry, model string, what error) error {
	if _, err := r.Model(ctx, model); errors.Is(err, registry.ErrNotFound) {
		return fmt.Errorf("no model named %q in the registry", model)
	}
	return what
}

func printMove(w io.Writer, f *modelsFlags, e registry.AliasEvent) error {
	if f.json {
		return printJSON(w, e)
	}
	switch {
	case e.ID == 0:
		_, err := fmt.Fprintf(w, "%s@%s already points at version %d\n", e.Model, e.Alias,
			e.To)
		return err
	case e.From == 0:
		_, err := fmt.Fprintf(w, "%s@%s now points at version %d\n", e.Model, e.Alias, e.To)
		return err
	}
	_, err := fmt.Fprintf(w, "%s@%s moved from version %d to %d\n", e.Model, e.Alias,
		e.From, e.To)
	return err
}

func newModelsRollbackCommand(g *globals, f *modelsFlags) *cobra.Command {
	var alias, reason string
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Move an alias back to the version it pointed at before its last move",
		Long: `Rollback moves the alias back to its previous version in one atomic step and
records that as a move marked rollback; a second rollback undoes the first.`,
		Example: `  hydrocast models rollback sweat-rate --reason "latency regression"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := registry.WithPrincipal(cmd.Context(), f.principal())
			return withModelRegistry(ctx, g, f, func(r *registry.Registry) error {
				e, err := r.Rollback(ctx, args[0], alias, reason)
				switch {
				case errors.Is(err, registry.ErrNoHistory):
					return fmt.Errorf("%s@%s has never moved; nothing to roll back to",
						args[0], alias)
				case errors.Is(err, registry.ErrNotFound):
					return missing(ctx, r, args[0],
						fmt.Errorf("model %s has no alias %q", args[0], alias))
				case err != nil:
					return err
				}
				return printMove(cmd.OutOrStdout(), f, e)
			})
		},
	}
	cmd.Flags().StringVar(&alias, "alias", "production", "the alias to roll back")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
	cmd.MarkFlagRequired("reason")
	return cmd
}

// uploadFlags are the flags of models upload.
type uploadFlags struct {
	name        string
	features    []string
	alias       string
	description string
	server      string // a serve address to upload through instead of the registry
	client      clientFlags
}

func newModelsUploadCommand(g *globals, f *modelsFlags) *cobra.Command {
	u := &uploadFlags{}
	cmd := &cobra.Command{
		Use:   "upload FILE",
		Short: "Check an ONNX model and publish it as a new version",
		Long: `Upload publishes an ONNX model made elsewhere (PyTorch, scikit-learn, LightGBM…)
as a new version of --name. FILE is an .onnx file, or a zip or tar archive holding
one with its external data files.

The signature comes from the graph: its inputs and outputs, with the features of
--inputs-from-features naming, in order, the columns of its single input. The model
is checked (size, format, IR and operator set versions, signature, external data),
recorded as pending, then loaded and run once on zeros in a child process under
memory and time limits. It becomes ready, and --alias moves to it, only if that
succeeds; otherwise it is marked failed with the reason and the command fails.

With --server the file goes to a running hydrocast serve instead, streamed in 1 MiB
chunks with its SHA-256, and that server runs the same checks and trial and
publishes into its registry. A server with authentication wants --token, of the
data-scientist role (admin to point an alias other than staging at the upload), and
--tls-ca when it serves TLS.`,
		Example: `  hydrocast models upload sweat.onnx --name sweat-rate \
    --inputs-from-features heart_rate_bpm_mean_15m,skin_temp_c_mean_15m,humidity_pct_last \
    --alias staging --description "LightGBM, 400 trees"
  hydrocast models upload big.onnx --name sweat-rate --server localhost:8470 \
    --inputs-from-features heart_rate_bpm_mean_15m,skin_temp_c_mean_15m,humidity_pct_last`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			show := func(v registry.Version) error {
				if f.json {
					return printJSON(cmd.OutOrStdout(), v)
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s version %d is %s (sha256:%s)\n",
					v.Model, v.Number, v.Status, v.Digest)
				return err
			}
			if u.server != "" {
				v, err := uploadRemote(cmd.Context(), u.server, u, args[0])
				if err != nil {
					return err
				}
				return show(v)
			}
			ctx := registry.WithPrincipal(cmd.Context(), f.principal())
			return withModelRegistry(ctx, g, f, func(r *registry.Registry) error {
				v, err := uploadModel(ctx, r, u, args[0])
				if err != nil {
					return err
				}
				return show(v)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&u.name, "name", "", "model name, such as sweat-rate (required)")
	fl.StringSliceVar(&u.features, "inputs-from-features", nil,
		"features, in column order, of the model's single input (required)")
	fl.StringVar(&u.alias, "alias", "", "alias to point at the version once it is ready")
	fl.StringVar(&u.description, "description", "", "what this version is")
	fl.StringVar(&u.server, "server", "", "upload through the hydrocast serve at this "+
		"gRPC address (host:port) instead of into the local registry")
	u.client.register(fl)
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagRequired("inputs-from-features")
	return cmd
}

// uploadModel streams the file through a registry.Uploader with hydrocast's ONNX
// checks.
func uploadModel(ctx context.Context, r *registry.Registry, u *uploadFlags,
	path string) (registry.Version, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return registry.Version{}, err
	}
	sig, err := upload.SignatureOf(data)
	if err != nil {
		return registry.Version{}, fmt.Errorf("read signature of %s: %w", path, err)
	}
	if len(sig.Inputs) != 1 {
		return registry.Version{}, fmt.Errorf("--inputs-from-features needs a model with "+
			"one input; %s has %d", path, len(sig.Inputs))
	}
	sig.Inputs[0].Features = u.features
	if err := inference.CheckServable(u.name, sig); err != nil {
		return registry.Version{}, err
	}

	req := registry.PublishRequest{Model: u.name, Description: u.description,
		Signature: sig, Lineage: registry.Lineage{Generator: "hydrocast models upload"}}
	if u.alias != "" {
		req.Promote = &registry.Promotion{Alias: u.alias, Reason: "uploaded " +
			filepath.Base(path)}
	}
	uploader := registry.NewUploader(r, upload.Checker{}, registry.UploaderOptions{})
	up, err := uploader.Begin(ctx, req)
	if err != nil {
		return registry.Version{}, err
	}
	// The file goes through in chunks, as it would over the upload RPC.
	for chunk := range slices.Chunk(data, 1<<20) {
		if _, err := up.Write(chunk); err != nil {
			return registry.Version{}, err
		}
	}
	sum := sha256.Sum256(data)
	return up.Finish(ctx, hex.EncodeToString(sum[:]))
}

// newModelsTrialRunCommand is the child process of an upload's trial run; the
// registry starts it, people do not.
func newModelsTrialRunCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "trial-run --model PATH [--memory-bytes N]",
		Short:              "Load and run one model on zeros, reporting JSON lines",
		Hidden:             true,
		DisableFlagParsing: true, // upload.ChildMain parses its own flags
		RunE: func(cmd *cobra.Command, args []string) error {
			code := upload.ChildMain(cmd.Context(), args, cmd.OutOrStdout(),
				cmd.ErrOrStderr())
			if code != 0 {
				return fmt.Errorf("trial-run: exit status %d", code)
			}
			return nil
		},
	}
}

func newModelsTrafficCommand(g *globals, f *modelsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "traffic",
		Short: "Split a model's requests between versions, with an optional shadow",
		Long: `Traffic sets, shows and clears a model's traffic policy: the ready versions that
serve it, each with a weight, an experiment salt and an optional shadow version.

Servers assign each athlete to one version, sticky, by a hash of the salt and the
athlete's id, and log every assignment for A/B analysis. The shadow version gets a
copy of each request; its result is logged, never returned. A model without a policy
is served by its production alias. Servers apply a change within a few seconds, and
every change is kept in the model's traffic history with who made it and why.`,
		Example: `  hydrocast models traffic set sweat-rate --split 3=90,4=10 --shadow 5 \
    --reason "try v4 on a tenth of athletes"
  hydrocast models traffic show sweat-rate --output json
  hydrocast models traffic history sweat-rate
  hydrocast models traffic clear sweat-rate --reason "v4 promoted"`,
	}
	cmd.AddCommand(newTrafficSetCommand(g, f), newTrafficShowCommand(g, f),
		newTrafficClearCommand(g, f), newTrafficHistoryCommand(g, f))
	return cmd
}

func newTrafficSetCommand(g *globals, f *modelsFlags) *cobra.Command {
	var split, salt, reason string
	var shadow int
	cmd := &cobra.Command{
		Use:   "set NAME --split VERSION=WEIGHT,... --reason TEXT",
		Short: "Set a model's traffic policy, replacing the one it has",
		Long: `Set replaces model NAME's traffic policy in one atomic step. Every version it
names must be ready. Weights are positive and sum to 1 or to 100.

Without --salt the policy keeps the salt of the one it replaces, so athletes stay
where they were and only those a changed weight moves change version; a model with
no policy yet gets a new random salt. A new --salt reshuffles every athlete.`,
		Example: `  hydrocast models traffic set sweat-rate --split 3=90,4=10 --reason "try v4"
  hydrocast models traffic set sweat-rate --split 3=0.5,4=0.5 --shadow 5 \
    --salt sweat-v4-2026-07 --reason "half and half, shadow v5"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arms, err := registry.ParseSplit(split)
			if err != nil {
				return fmt.Errorf("--split: %w", err)
			}
			if shadow < 0 {
				return fmt.Errorf("--shadow %d: want a version number", shadow)
			}
			p := registry.TrafficPolicy{Model: args[0], Arms: arms, Salt: salt,
				Shadow: shadow}
			ctx := registry.WithPrincipal(cmd.Context(), f.principal())
			return withModelRegistry(ctx, g, f, func(r *registry.Registry) error {
				e, err := r.SetTraffic(ctx, registry.TrafficChange{Policy: p,
					Reason: reason})
				if err != nil {
					return explainTrafficError(ctx, r, err, args[0])
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), e)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s traffic: %s\n", args[0],
					e.Policy.Describe())
				return err
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&split, "split", "", "versions and weights, such as 3=90,4=10 (required)")
	fl.IntVar(&shadow, "shadow", 0, "version that gets a mirrored copy of each request")
	fl.StringVar(&salt, "salt", "", "experiment salt; default the current policy's, or new")
	fl.StringVar(&reason, "reason", "", "why the traffic changes (required)")
	cmd.MarkFlagRequired("split")
	cmd.MarkFlagRequired("reason")
	return cmd
}

// explainTrafficError turns the errors people meet when setting a policy into plain
// sentences.
func explainTrafficError(ctx context.Context, r *registry.Registry, err error,
	model string) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return missing(ctx, r, model, err)
	case errors.Is(err, registry.ErrConflict):
		return fmt.Errorf("every version of a traffic policy must be ready: %w", err)
	}
	return err
}

// trafficView is what traffic show prints: the policy, or the alias serving without
// one, and each version's share of athletes.
type trafficView struct {
	Model  string                  `json:"model"`
	Policy *registry.TrafficPolicy `json:"policy"`
	Serves []trafficShare          `json:"serves"`
	Shadow int                     `json:"shadow,omitempty"`
	// ShadowAlias names the shadow version's aliases, as trafficShare.Alias does.
	ShadowAlias string `json:"shadow_alias,omitempty"`
}

type trafficShare struct {
	Version int     `json:"version"`
	Share   float64 `json:"share"` // 0 to 1
	// Alias names the version's aliases, separated by spaces; without a policy it is
	// production, which then serves everything.
	Alias string `json:"alias,omitempty"`
}

func newTrafficShowCommand(g *globals, f *modelsFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show the versions that serve a model and their shares",
		Long: `Show prints model NAME's traffic policy, or says that its production alias
serves all requests when it has none.`,
		Example: `  hydrocast models traffic show sweat-rate
  hydrocast models traffic show sweat-rate --output json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output %q: want table or json", output)
			}
			return withModelRegistry(cmd.Context(), g, f, func(r *registry.Registry) error {
				view, err := loadTrafficView(cmd.Context(), r, args[0])
				if err != nil {
					return err
				}
				if f.json || output == "json" {
					return printJSON(cmd.OutOrStdout(), view)
				}
				return printTrafficView(cmd.OutOrStdout(), view)
			})
		},
	}
	cmd.Flags().StringVar(&output, "output", "table", "table or json")
	return cmd
}

func loadTrafficView(ctx context.Context, r *registry.Registry,
	model string) (trafficView, error) {
	view := trafficView{Model: model, Serves: []trafficShare{}}
	p, err := r.Traffic(ctx, model)
	if err == nil {
		var total float64
		for _, a := range p.Arms {
			total += a.Weight
		}
		// The aliases name the versions for people; the policy, not they, routes.
		aliases := func(n int) string {
			v, err := r.Version(ctx, model, n)
			if err != nil {
				return ""
			}
			return strings.Join(v.Aliases, " ")
		}
		for _, a := range p.Arms {
			view.Serves = append(view.Serves, trafficShare{Version: a.Version,
				Share: a.Weight / total, Alias: aliases(a.Version)})
		}
		view.Policy, view.Shadow = &p, p.Shadow
		if p.Shadow != 0 {
			view.ShadowAlias = aliases(p.Shadow)
		}
		return view, nil
	}
	if !errors.Is(err, registry.ErrNotFound) {
		return view, err
	}
	v, err := r.Resolve(ctx, model, "production")
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return view, missing(ctx, r, model, fmt.Errorf("model %s has neither a traffic "+
			"policy nor a production alias: no server can serve it", model))
	case err != nil:
		return view, err
	}
	view.Serves = append(view.Serves, trafficShare{Version: v.Number, Share: 1,
		Alias: "production"})
	return view, nil
}

func printTrafficView(w io.Writer, view trafficView) error {
	if p := view.Policy; p != nil {
		shadow := "-"
		if p.Shadow != 0 {
			shadow = strconv.Itoa(p.Shadow)
		}
		fmt.Fprintf(w, "model:       %s\nexperiment:  %s\nshadow:      %s\n"+
			"updated:     %s by %s\nreason:      %s\n\n", view.Model, p.Salt,
			shadow, when(p.Updated), p.Principal, p.Reason)
	} else {
		fmt.Fprintf(w, "model:       %s\npolicy:      none; production serves all "+
			"requests\n\n", view.Model)
	}
	var rows [][]string
	for _, s := range view.Serves {
		rows = append(rows, []string{strconv.Itoa(s.Version),
			strconv.FormatFloat(100*s.Share, 'f', 1, 64) + " %", s.Alias})
	}
	if view.Shadow != 0 {
		rows = append(rows, []string{strconv.Itoa(view.Shadow), "shadow", view.ShadowAlias})
	}
	return table(w, []string{"VERSION", "SHARE", "ALIAS"}, rows)
}

func newTrafficClearCommand(g *globals, f *modelsFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:     "clear NAME --reason TEXT",
		Short:   "Remove a model's traffic policy, so that production serves it again",
		Example: `  hydrocast models traffic clear sweat-rate --reason "v4 promoted"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := registry.WithPrincipal(cmd.Context(), f.principal())
			return withModelRegistry(ctx, g, f, func(r *registry.Registry) error {
				e, err := r.ClearTraffic(ctx, args[0], reason)
				if errors.Is(err, registry.ErrNotFound) {
					return missing(ctx, r, args[0],
						fmt.Errorf("model %s has no traffic policy to clear", args[0]))
				}
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), e)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s traffic policy cleared; "+
					"production serves all requests\n", args[0])
				return err
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
	cmd.MarkFlagRequired("reason")
	return cmd
}

func newTrafficHistoryCommand(g *globals, f *modelsFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "history NAME",
		Short:   "List a model's traffic policy changes, newest first",
		Example: `  hydrocast models traffic history sweat-rate --json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withModelRegistry(cmd.Context(), g, f, func(r *registry.Registry) error {
				events, err := r.TrafficHistory(cmd.Context(), args[0])
				if errors.Is(err, registry.ErrNotFound) {
					return fmt.Errorf("no model named %q in the registry", args[0])
				}
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), events)
				}
				var rows [][]string
				for _, e := range events {
					policy := "cleared"
					if e.Policy != nil {
						policy = e.Policy.Describe()
					}
					rows = append(rows, []string{when(e.Time), policy, e.Principal,
						e.Reason})
				}
				return table(cmd.OutOrStdout(), []string{"TIME", "POLICY", "BY", "REASON"},
					rows)
			})
		},
	}
}
