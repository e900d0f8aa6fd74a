package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// The two floors of issue 19, measured in the same run for each N: the
// same count of resources as the provider's configuration (the
// connections, chains and roles) as Terraform's built-in terraform_data
// with as many attributes as airflowiam_connection (no plugin at all), and
// as noop_connection, whose provider (./noop) has airflowiam_connection's
// schema and touches nothing remote.
const (
	floorData = "terraform_data"
	floorNoop = "no-op plugin"
)

// floorSet is one floor's apply, refresh-only plan and destroy.
type floorSet struct {
	Kind    string       `json:"kind"`
	Apply   *measurement `json:"apply"`
	Refresh *measurement `json:"refresh"`
	Destroy *measurement `json:"destroy"`
}

// floorResources is how many resources the provider's configuration has
// for n connections: n and bench_aws, the chains and the roles.
func floorResources(n int) int { return n + 1 + chains + roles }

func floorConfig(kind string, n int) string {
	var b strings.Builder
	if kind == floorNoop {
		b.WriteString(`terraform {
  required_providers {
    noop = {
      source = "airflowiam/noop"
    }
  }
}

resource "noop_connection" "c" {
`)
	} else {
		b.WriteString(`resource "terraform_data" "c" {
`)
	}
	// The values of the bench's connections; terraform_data takes them as
	// one object of as many attributes as airflowiam_connection has.
	attrs := `connection_id = format("bench_%04d", count.index)
  conn_type     = "postgres"
  description   = null
  host          = "db-${count.index}.example.com"
  port          = 5432
  login         = "airflow"
  schema        = null
  password      = "pw-${count.index}"
  extra         = jsonencode({ sslmode = "require", api_token = "t-${count.index}" })`
	fmt.Fprintf(&b, "  count = %d\n", floorResources(n))
	if kind == floorNoop {
		b.WriteString("  " + attrs + "\n}\n")
		return b.String()
	}
	fmt.Fprintf(&b, "  input = {\n    id = null\n    password_wo = null\n    password_wo_version = null\n    %s\n  }\n}\n",
		strings.ReplaceAll(attrs, "\n  ", "\n    "))
	return b.String()
}

// measureFloor measures one floor for n: apply from empty, refresh-only
// plan, destroy, runs times each.
func (e *env) measureFloor(ctx context.Context, kind string, n, runs int, log io.Writer) (*floorSet, error) {
	dir := filepath.Join(e.dir, fmt.Sprintf("n%d-%s", n, strings.ReplaceAll(kind, " ", "-")))
	if err := workDir(dir, floorConfig(kind, n)); err != nil {
		return nil, err
	}
	tf := func(args ...string) (time.Duration, int64, error) {
		return e.terraformRun(ctx, dir, append(args, "-input=false", "-no-color")...)
	}
	fmt.Fprintf(log, "bench: N = %d: %s floor x%d\n", n, kind, runs)
	set := &floorSet{Kind: kind}
	applied := false
	var err error
	set.Apply, err = e.repeat(kind+": apply from empty", runs, func() error {
		if applied {
			if _, _, err := tf("destroy", "-auto-approve"); err != nil {
				return err
			}
		}
		applied = true
		return nil
	}, func() (time.Duration, int64, error) { return tf("apply", "-auto-approve") })
	if err != nil {
		return nil, err
	}
	set.Refresh, err = e.repeat(kind+": refresh-only plan", runs, nil,
		func() (time.Duration, int64, error) { return tf("plan", "-refresh-only", "-lock=false") })
	if err != nil {
		return nil, err
	}
	set.Destroy, err = e.repeat(kind+": destroy", runs, func() error {
		if !applied {
			if _, _, err := tf("apply", "-auto-approve"); err != nil {
				return err
			}
		}
		applied = false
		return nil
	}, func() (time.Duration, int64, error) { return tf("destroy", "-auto-approve") })
	return set, err
}

// ratio is wall over the floor's, as "1.23x", or "-".
func ratio(wall int64, floor *measurement) string {
	if floor == nil || floor.WallMS <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(wall)/float64(floor.WallMS))
}
