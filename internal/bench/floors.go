package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// The two floors of issue 19, measured for each N in turn with the
// provider's apply, refresh-only plan and destroy: the
// provider's configuration with each of its resources (the connections,
// bench_aws, the chains and the roles, expanded the same way: for_each over
// the same maps, count for the roles) made Terraform's built-in
// terraform_data with as many attributes as airflowiam_connection (no
// plugin at all), or noop_connection, whose provider (./noop) has
// airflowiam_connection's schema and touches nothing remote. The
// expansion matters: measured at N = 1,000, Terraform itself takes about
// 40% longer over a refresh-only plan of 1,026 resources made with
// for_each over a map than of the same resources made with count.
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

// floorConfig is the floor of kind for n connections.
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
`)
	}
	fmt.Fprintf(&b, `
locals {
  connections = { for i in range(%d) : format("bench_%%04d", i) => i }
  chains      = { for i in range(%d) : format("chain%%02d", i) => i }
}
`, n, chains)
	// Each resource of the provider's configuration, as the same count
	// of attributes as airflowiam_connection with the bench's values.
	floorResource(&b, kind, "c", "for_each = local.connections", map[string]string{
		"connection_id": "each.key", "conn_type": `"postgres"`, "host": `"db-${each.value}.example.com"`,
		"port": "5432", "login": `"airflow"`, "password": `"pw-${each.value}"`,
		"extra": `jsonencode({ sslmode = "require", api_token = "t-${each.value}" })`,
	})
	floorResource(&b, kind, "ch", "for_each = local.chains", map[string]string{
		"connection_id": "each.key", "conn_type": `"google_cloud_platform"`,
	})
	floorResource(&b, kind, "r", fmt.Sprintf("count = %d", roles), map[string]string{
		"connection_id": `"bench-role-${count.index}"`, "conn_type": `"aws"`,
	})
	floorResource(&b, kind, "aws", "", map[string]string{"connection_id": `"bench_aws"`, "conn_type": `"aws"`})
	return b.String()
}

// floorAttributes are airflowiam_connection's arguments, in order.
var floorAttributes = []string{"connection_id", "conn_type", "description", "host", "port", "login", "schema", "password", "extra"}

// floorResource writes one resource of the floor: a noop_connection with
// the given arguments, or a terraform_data whose input has every
// attribute of airflowiam_connection, null where not given.
func floorResource(b *strings.Builder, kind, name, expansion string, args map[string]string) {
	typ, indent := "noop_connection", "  "
	if kind == floorData {
		typ, indent = "terraform_data", "    "
	}
	fmt.Fprintf(b, "\nresource %q %q {\n", typ, name)
	if expansion != "" {
		fmt.Fprintf(b, "  %s\n", expansion)
	}
	if kind == floorData {
		b.WriteString("  input = {\n")
		for _, a := range []string{"id", "password_wo", "password_wo_version"} {
			fmt.Fprintf(b, "%s%s = null\n", indent, a)
		}
	}
	for _, a := range floorAttributes {
		v, ok := args[a]
		switch {
		case ok:
			fmt.Fprintf(b, "%s%s = %s\n", indent, a, v)
		case kind == floorData:
			fmt.Fprintf(b, "%s%s = null\n", indent, a)
		}
	}
	if kind == floorData {
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
}

// floorSubject is the floor of kind for n in its working directory.
func (e *env) floorSubject(ctx context.Context, kind string, n int) (*subject, error) {
	dir := filepath.Join(e.dir, fmt.Sprintf("n%d-%s", n, strings.ReplaceAll(kind, " ", "-")))
	if err := workDir(dir, floorConfig(kind, n)); err != nil {
		return nil, err
	}
	return e.subject(ctx, kind, dir), nil
}

// ratio is wall over the floor's, as "1.23x", or "-".
func ratio(wall int64, floor *measurement) string {
	if floor == nil || floor.WallMS <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(wall)/float64(floor.WallMS))
}
