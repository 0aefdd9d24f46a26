// Command connectflo-ferretdb runs FerretDB 1.x (MongoDB wire protocol on SQLite) for local
// development and CI. It embeds github.com/FerretDB/FerretDB/ferretdb instead of building
// FerretDB's own cmd/ferretdb, which panics at start when built from the module (it wants a
// generated version file that the published module lacks).
//
// Usage: connectflo-ferretdb -listen 127.0.0.1:27017 -data-dir DIR [-log-level warn]
//
//	[-debug-addr 127.0.0.1:8089]  Go's profiler at /debug/pprof/ (off unless given)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data-dir", ".run/mongo/data", "directory for the SQLite databases (created if missing)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	postgresURL := flag.String("postgresql-url", "", "store in this PostgreSQL instead of SQLite files (postgres://user@host:port/db)")
	debugAddr := flag.String("debug-addr", "", "serve Go's profiler (/debug/pprof/) on this address")
	flag.Parse()

	if *debugAddr != "" {
		go func() {
			if err := http.ListenAndServe(*debugAddr, nil); err != nil {
				log.Printf("connectflo-ferretdb: -debug-addr: %v", err)
			}
		}()
	}

	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Fatalf("connectflo-ferretdb: data dir: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatalf("connectflo-ferretdb: data dir: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatalf("connectflo-ferretdb: -log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := &ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	}

	if *postgresURL != "" {
		cfg.Handler, cfg.SQLiteURL, cfg.PostgreSQLURL = "postgresql", "", *postgresURL
	}

	f, err := ferretdb.New(cfg)
	if err != nil {
		log.Fatalf("connectflo-ferretdb: %v", err)
	}

	fmt.Fprintf(os.Stderr, "connectflo-ferretdb: listening on %s, data in %s (pid %d)\n", *listen, dir, os.Getpid())
	if err := f.Run(ctx); err != nil {
		log.Fatalf("connectflo-ferretdb: %v", err)
	}
	fmt.Fprintln(os.Stderr, "connectflo-ferretdb: stopped")
}
