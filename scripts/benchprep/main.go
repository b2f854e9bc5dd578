// Command benchprep prepares what the load tests of `make bench` need from a
// hydrocast server: models in its registry, an athlete with readings in its feature
// store, and the request bodies that ghz sends. It is a developer tool that
// scripts/bench.sh runs, not part of the hydrocast binary.
//
//	benchprep models --home var/bench/home [--stand-ins]
//	benchprep seed --addr 127.0.0.1:8470 --out var/bench/load
//	benchprep heavy --home var/bench/home-heavy [--width 2048]
//
// models prints the state of the registry's production models: "trained", "stand-in"
// (published by benchprep) or "none"; with --stand-ins it first publishes small linear
// stand-ins for every family that has no production version.
//
// seed streams twenty minutes of a hot workout for one athlete to the server, which
// must listen on a loopback address, and writes the Assess request for that athlete
// and a one-row ModelInfer request for the sweat-rate model built from the same
// athlete's features, with its input in typed contents (modelinfer) and as raw bytes
// (modelinfer-raw), each as JSON (assess.json, modelinfer.json, …) and in the binary
// wire format (assess.bin, modelinfer.bin, …).
//
// heavy publishes, as the production sweat-rate version, a network of two hidden
// layers of --width units that reads the same features as the version it replaces:
// a model whose run, not its call, is most of a request's cost, for the batching
// figure. It prints the version's number.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
)

// errUsage means the command line was wrong; the usage has been printed.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "benchprep:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchprep models|seed|heavy [flags]")
		return errUsage
	}
	switch args[0] {
	case "models":
		return runModels(ctx, args[1:])
	case "seed":
		return runSeed(ctx, args[1:])
	case "heavy":
		return runHeavy(ctx, args[1:])
	}
	fmt.Fprintf(os.Stderr, "benchprep: unknown command %q (models, seed, heavy)\n", args[0])
	return errUsage
}

func runModels(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	home := fs.String("home", "var/bench/home", "hydrocast state folder")
	standIns := fs.Bool("stand-ins", false, "publish linear stand-ins for the families "+
		"without a production version")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	dir := filepath.Join(*home, "registry")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create registry folder: %w", err)
	}
	state, err := prepareModels(ctx, dir, *standIns)
	if err != nil {
		return err
	}
	fmt.Println(state)
	return nil
}

func runSeed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	addr := fs.String("addr", "", "the server's gRPC address, on loopback")
	out := fs.String("out", "var/bench/load", "folder for the request files")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create request folder: %w", err)
	}
	return seed(ctx, *addr, *out)
}

func runHeavy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("heavy", flag.ContinueOnError)
	home := fs.String("home", "var/bench/home-heavy", "hydrocast state folder")
	width := fs.Int("width", 2048, "units in each of the two hidden layers")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	v, err := publishHeavy(ctx, filepath.Join(*home, "registry"), *width)
	if err != nil {
		return err
	}
	fmt.Println(v)
	return nil
}
