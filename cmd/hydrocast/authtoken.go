package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/auth"
	"github.com/hydrocast/hydrocast/auth/token"
)

// newTokenCommand returns `hydrocast token`, which makes the local signing key and
// mints bearer tokens for `serve --auth local`.
// tokenRolesHelp lists, in token's help and token issue's, what each role may do.
const tokenRolesHelp = `Roles: service (ingest, assess, infer), data-scientist (upload,
move staging), mlops (move production, traffic, rollback), researcher (evaluate, read
drift), admin.`

func newTokenCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Make the local signing key and issue bearer tokens for serve --auth local",
		Long: `Token manages the embedded setup's credentials: an Ed25519 key that signs bearer
tokens (JWT, EdDSA) and the tokens themselves. A server started with --auth local
accepts the tokens signed by the key it is given; in production, use --auth oidc with
your identity provider instead.

` + tokenRolesHelp,
		Example: `  hydrocast token keygen
  hydrocast token issue --role service --subject coach-app --ttl 8h
  hydrocast serve --auth local --listen :8470`,
	}
	cmd.AddCommand(newTokenKeygenCommand(g), newTokenIssueCommand(g))
	return cmd
}

func newTokenKeygenCommand(g *globals) *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create the Ed25519 key that signs and checks local tokens",
		Long: `Keygen writes a new Ed25519 private key (PEM, PKCS #8, mode 0600) to --key. It
never overwrites a key: replacing one invalidates every token it signed, so remove the
old file yourself when that is what you want.`,
		Example: `  hydrocast token keygen
  hydrocast token keygen --key /etc/hydrocast/token.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := keyPath(g.home, keyFile)
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("the key file %s exists (--key); remove it first to "+
					"replace the key (its tokens stop working)", path)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			key, err := token.LoadOrCreateKey(path)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (key id %s)\n", path,
				token.KeyID(key.Public().(ed25519.PublicKey)))
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "key file to create; default "+
		"<home>/secrets/token.key")
	return cmd
}

func newTokenIssueCommand(g *globals) *cobra.Command {
	var (
		keyFile, subject string
		roles            []string
		ttl              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Print a bearer token signed with the local key",
		Long: `Issue prints a signed JWT for --subject holding the --role roles, valid for
--ttl. Send it as "authorization: Bearer <token>" (gRPC metadata or HTTP header).

` + tokenRolesHelp,
		Example: `  hydrocast token issue --role service --subject s1
  hydrocast token issue --role mlops --role researcher --subject alice --ttl 15m
  TOKEN=$(hydrocast token issue --role service --subject s1)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if subject == "" {
				return errors.New("--subject is required: it names the caller in logs " +
					"and the audit trail")
			}
			if len(roles) == 0 {
				return fmt.Errorf("--role is required (one of %v)", auth.Roles())
			}
			for _, r := range roles {
				if _, err := auth.ParseRole(r); err != nil {
					return fmt.Errorf("--role: %w", err)
				}
			}
			if ttl <= 0 || ttl > 366*24*time.Hour {
				return fmt.Errorf("--ttl %v: want more than 0 and at most a year", ttl)
			}
			path := keyPath(g.home, keyFile)
			key, err := token.LoadKey(path)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("--key %s does not exist; run hydrocast token keygen", path)
			}
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			tok, err := token.NewSigner(key, token.SignerOptions{}).Issue(
				token.IssueRequest{Subject: subject, Roles: roles, TTL: ttl})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&keyFile, "key", "", "signing key file; default <home>/secrets/token.key")
	fl.StringVar(&subject, "subject", "", "who the token is for (the sub claim)")
	fl.StringSliceVar(&roles, "role", nil, "role the token grants; repeat for more")
	fl.DurationVar(&ttl, "ttl", token.DefaultTTL, "how long the token is valid")
	return cmd
}
