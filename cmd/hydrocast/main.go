// Command hydrocast is the one binary of the hydrocast service: it simulates cohorts,
// trains and registers models, serves predictions over gRPC and replays workout files.
// This package only wires the others together.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "hydrocast:", err)
		os.Exit(1)
	}
}

// globals are the flags every subcommand shares.
type globals struct {
	logFormat string
	logLevel  string
	home      string
	registry  string
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "hydrocast",
		Short: "Hydration and heat-strain predictions for athletes, served over gRPC",
		Long: `hydrocast turns wearable readings (heart rate, skin temperature) and weather into
rolling-window features, runs three ONNX models on them (sweat rate, core-temperature
trajectory, anomaly) and serves the results over gRPC.

Environment variables:
  HYDROCAST_HOME     state folder (registry, cohorts); default ./var/hydrocast
  HYDROCAST_REGISTRY model registry URL; default <home>/registry
  HYDROCAST_ORT_LIB  path of libonnxruntime.so.1 (ONNX Runtime 1.24)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text",
		"log format: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info",
		"log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.home, "home", envOr("HYDROCAST_HOME", "var/hydrocast"),
		"state folder holding the registry and generated data (env HYDROCAST_HOME)")
	root.PersistentFlags().StringVar(&g.registry, "registry", os.Getenv("HYDROCAST_REGISTRY"),
		"model registry: a folder, sqlite://PATH or postgres://…?artifacts=URL "+
			"(env HYDROCAST_REGISTRY); default <home>/registry")

	root.AddCommand(
		newServeCommand(g),
		newReplayCommand(g),
		newSimulateCommand(g),
		newTrainCommand(g),
		newTrainingSetCommand(g),
		newModelsCommand(g),
		newImportCommand(g),
		newAthleteCommand(g),
		newDriftCommand(g),
		newEvalCommand(g),
		newTokenCommand(g),
		newCapacityCommand(g),
		newIngestCommand(g),
	)
	return root
}

// logger builds the process logger from the shared flags; logs go to stderr so that
// stdout carries only the command's output.
func (g *globals) logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// envOr returns the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
