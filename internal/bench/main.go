// Command bench measures the provider at scale for `make bench`: for N
// airflowiam_connection resources (default 100 and 1,000) plus 20
// impersonation chains, 5 web-identity roles and one token-exchange check,
// against the local sandbox (real Airflow 3, moto, fakegcp), it times
// `terraform apply` from empty, a refresh-only plan with nothing changed,
// and the same plan after 10 connections changed out of band (median of
// -runs runs each; apply, the refresh-only plan with nothing changed and
// destroy are measured round by round in turn with their floors', the
// refresh in 2 x -runs - 1 rounds). Requests are counted at counting proxies in front of
// each service, and the provider process's peak resident memory is read from
// /proc. A floor program issues the same reads straight to the APIs with
// Terraform's default parallelism. Results go to a Markdown table and a JSON
// file; the command exits non-zero when a request budget or a target is
// missed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	sizes := fs.String("n", "100,1000", "comma-separated numbers of connections")
	runs := fs.Int("runs", 3, "runs per measurement (the median is reported)")
	checks := fs.Bool("checks", true, "also measure the shared-hops scenario (100 checks over 100 roles)")
	out := fs.String("out", ".cache/bench", "directory for the results and the working directories")
	hold := fs.Bool("hold", false, "after the first apply, keep the sandbox and the working directory until interrupted (for profiling by hand)")
	floors := fs.Bool("floors", true, "also measure Terraform's floors (terraform_data and the no-op plugin); without them the ratio budgets are not judged")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			return fmt.Errorf("-n: %q is not a number of at least 10", s)
		}
		ns = append(ns, n)
	}
	if *runs < 1 {
		return fmt.Errorf("-runs must be at least 1")
	}
	outDir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}

	env, err := startEnv(ctx, outDir, stderr)
	if err != nil {
		return err
	}
	defer env.stop()
	env.hold = *hold

	report := &report{Runs: *runs}
	for _, n := range ns {
		res, err := env.measure(ctx, n, *runs, *floors, stderr)
		if err != nil {
			return fmt.Errorf("with %d connections: %w", n, err)
		}
		report.Sizes = append(report.Sizes, *res)
	}
	if *checks {
		if report.Checks, err = env.measureChecks(ctx, *runs, stderr); err != nil {
			return fmt.Errorf("shared checks: %w", err)
		}
	}
	table := report.markdown()
	fmt.Fprint(stdout, table)
	if err := report.write(outDir, table); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: results in %s\n", filepath.Join(outDir, "results.md"))
	if failed := report.failures(); len(failed) > 0 {
		return fmt.Errorf("%d budget(s) missed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}
