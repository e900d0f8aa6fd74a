// Command fakegcp serves the fake Google IAM, IAM Credentials, OAuth 2.0 and
// OpenID Connect endpoints of package fakegcp until it is interrupted.
//
//	fakegcp [-listen 127.0.0.1:0] [-seed seed.json] [-url-file FILE] [-issuer URL] [-propagation-delay 0s]
//
// It prints the base URL on standard output once listening, and writes it to
// -url-file (atomically) when that is set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fakegcp:", err)
		}
		os.Exit(2)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakegcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (`host:port`; port 0 picks a free one)")
	seedFile := fs.String("seed", "", "JSON seed `file` with projects, service accounts, policies and static tokens")
	urlFile := fs.String("url-file", "", "write the base URL to this `file` once listening")
	issuer := fs.String("issuer", fakegcp.DefaultIssuer, "iss claim of ID tokens and issuer of the OpenID configuration")
	propagation := fs.Duration("propagation-delay", 0, "how long a newly granted member waits before its permissions apply")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}

	s := fakegcp.New(fakegcp.WithIssuer(*issuer))
	s.SetPropagationDelay(*propagation)
	if *seedFile != "" {
		seed, err := fakegcp.LoadSeed(*seedFile)
		if err != nil {
			return err
		}
		if err := s.Seed(seed); err != nil {
			return err
		}
	}
	u, err := s.StartAt(*listen)
	if err != nil {
		return err
	}
	defer s.Close()
	if *urlFile != "" {
		if err := writeFileAtomic(*urlFile, []byte(u+"\n")); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, u)
	<-ctx.Done()
	return nil
}

// writeFileAtomic writes through a temporary file in the same directory and
// renames it, so readers never see a partial URL.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
