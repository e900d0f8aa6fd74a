package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Targets of issue 8 (the direct-reads floor) and issue 19 (Terraform's
// floors, memory).
const (
	maxFloorRatio   = 1.5
	maxRefreshRatio = 1.3        // refresh-only plan over the no-op plugin's
	maxWriteRatio   = 1.5        // apply and destroy over the no-op plugin's
	maxRSSKB        = 150 * 1024 // apply and refresh (issue 8)
	maxRefreshRSSKB = 90 * 1024  // refresh (issue 19)
)

type report struct {
	Runs   int           `json:"runs"`
	Sizes  []sizeResult  `json:"sizes"`
	Checks *checksResult `json:"checks,omitempty"`
}

// The rows of a size's measurements, in order.
const (
	rowApply = iota
	rowRefresh
	rowDrift
	rowDestroy
	rowDirect
)

// budgets checks the request budgets and the targets for one size.
func budgets(n int, ms []measurement, floors []floorSet) []budget {
	var out []budget
	add := func(name, limit, actual string, ok bool) {
		out = append(out, budget{Name: name, Limit: limit, Actual: actual, OK: ok})
	}
	apply, refresh, drift, destroy, floor := &ms[rowApply], &ms[rowRefresh], &ms[rowDrift], &ms[rowDestroy], &ms[rowDirect]
	// The Airflow connections are the N of the configuration and bench_aws.
	conns := n + 1
	pages := (conns + 99) / 100
	for _, m := range []*measurement{refresh, drift} {
		af := m.Requests["airflow"]
		add(m.Name+": /auth/token calls", "1 (one provider process reads Airflow)", fmt.Sprint(af["auth"]), af["auth"] == 1)
		limit := (n+99)/100 + 5
		add(m.Name+": requests to Airflow", fmt.Sprintf("<= ceil(N/100) + 5 = %d", limit), fmt.Sprint(af["total"]), af["total"] <= limit)
		add(m.Name+": list pages", fmt.Sprint(pages), fmt.Sprint(af["list"]), af["list"] == pages)
		g, a := m.Requests["google"], m.Requests["aws"]
		checkCalls := g["tokeninfo"] + g["generateIdToken"] + g["certs"] + g["generateAccessToken"] +
			a["AssumeRoleWithWebIdentity"] + a["GetCallerIdentity"]
		// Seven: the six of the path, and the provider's own
		// GetCallerIdentity, which tells whether the trust policy is in
		// its account (read once per process).
		add(m.Name+": check's calls (tokeninfo, generateIdToken, certs, generateAccessToken, AssumeRoleWithWebIdentity, 2 GetCallerIdentity)",
			"7", fmt.Sprint(checkCalls), checkCalls == 7)
	}
	hops := chains * hopsPer
	g := apply.Requests["google"]
	iam := g["getIamPolicy"] + g["setIamPolicy"]
	// Three per new hop: terraform apply plans twice (its plan, then each
	// resource again right before it is applied), and each plan reads the
	// policy to decide pre_existing (issue 14); the write then uses the
	// second plan's read, whose etag Google checks, and writes once.
	add("apply: IAM policy requests of the chains", fmt.Sprintf("<= 3 x %d hops = %d", hops, 3*hops), fmt.Sprint(iam), iam <= 3*hops)
	if n < 1000 {
		return out
	}
	writes := n/5 + 10
	for _, m := range []*measurement{apply, destroy} {
		af := m.Requests["airflow"]["total"]
		add(m.Name+": requests to Airflow", fmt.Sprintf("<= N/5 + 10 = %d", writes), fmt.Sprint(af), af <= writes)
	}
	ratioOK := float64(refresh.WallMS) / float64(max(floor.WallMS, 1))
	add("refresh-only plan vs the direct reads", fmt.Sprintf("<= %.1fx", maxFloorRatio), fmt.Sprintf("%.2fx", ratioOK), ratioOK <= maxFloorRatio)
	for _, f := range floors {
		if f.Kind != floorNoop {
			continue
		}
		for _, c := range []struct {
			m, floor *measurement
			limit    float64
		}{{refresh, f.Refresh, maxRefreshRatio}, {apply, f.Apply, maxWriteRatio}, {destroy, f.Destroy, maxWriteRatio}} {
			r := float64(c.m.WallMS) / float64(max(c.floor.WallMS, 1))
			add(c.m.Name+" vs the no-op plugin", fmt.Sprintf("<= %.1fx", c.limit), fmt.Sprintf("%.2fx", r), r <= c.limit)
		}
	}
	rss := max(apply.PeakRSSKB, refresh.PeakRSSKB, drift.PeakRSSKB)
	add("provider peak memory", fmt.Sprintf("< %d MB", maxRSSKB/1024), fmt.Sprintf("%.1f MB", float64(rss)/1024), rss < maxRSSKB)
	rss = max(refresh.PeakRSSKB, drift.PeakRSSKB)
	add("provider peak memory in a refresh", fmt.Sprintf("< %d MB", maxRefreshRSSKB/1024), fmt.Sprintf("%.1f MB", float64(rss)/1024),
		rss < maxRefreshRSSKB)
	return out
}

func (r *report) failures() []string {
	var out []string
	for _, s := range r.Sizes {
		for _, b := range s.Budgets {
			if !b.OK {
				out = append(out, fmt.Sprintf("N = %d: %s: %s, limit %s", s.N, b.Name, b.Actual, b.Limit))
			}
		}
	}
	if r.Checks != nil {
		for _, b := range r.Checks.Budgets {
			if !b.OK {
				out = append(out, fmt.Sprintf("shared checks: %s: %s, limit %s", b.Name, b.Actual, b.Limit))
			}
		}
	}
	return out
}

func requestsText(m map[string]map[string]int) string {
	return fmt.Sprintf("%d / %d / %d", m["airflow"]["total"], m["google"]["total"], m["aws"]["total"])
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Median of %d runs (of %d for the refresh-only plan with nothing changed). "+
		"Requests counted at proxies in front of each service (Airflow / Google / AWS). "+
		"Each figure is also shown as a ratio to Terraform's floors for the same count of resources: the built-in "+
		"terraform_data (no plugin) and a no-op plugin with airflowiam_connection's schema; apply, that refresh "+
		"and destroy were measured round by round in turn with the floors'.\n\n", r.Runs, 2*r.Runs-1)
	for _, s := range r.Sizes {
		fmt.Fprintf(&b, "### N = %d connections (+ 20 chains of 2 hops, 5 roles, 1 check)\n\n", s.N)
		b.WriteString("| measurement | wall | / terraform_data | / no-op plugin | / direct reads | requests (Airflow / Google / AWS) | provider peak RSS |\n" +
			"|---|---:|---:|---:|---:|---:|---:|\n")
		pick := func(f floorSet, row int) *measurement {
			switch row {
			case rowApply:
				return f.Apply
			case rowRefresh, rowDrift:
				return f.Refresh
			case rowDestroy:
				return f.Destroy
			}
			return nil
		}
		for row, m := range s.Measurements {
			data, noop := "-", "-"
			for _, f := range s.Floors {
				if f.Kind == floorData {
					data = ratio(m.WallMS, pick(f, row))
				} else {
					noop = ratio(m.WallMS, pick(f, row))
				}
			}
			direct := "-"
			if m.FloorMS > 0 {
				direct = fmt.Sprintf("%.2fx", float64(m.WallMS)/float64(m.FloorMS))
			}
			rss := "-"
			if m.PeakRSSKB > 0 {
				rss = fmt.Sprintf("%.1f MB", float64(m.PeakRSSKB)/1024)
			}
			fmt.Fprintf(&b, "| %s | %.2f s | %s | %s | %s | %s | %s |\n", m.Name, float64(m.WallMS)/1000, data, noop, direct, requestsText(m.Requests), rss)
		}
		for _, f := range s.Floors {
			for _, m := range []*measurement{f.Apply, f.Refresh, f.Destroy} {
				fmt.Fprintf(&b, "| floor: %s | %.2f s | - | - | - | - | - |\n", m.Name, float64(m.WallMS)/1000)
			}
		}
		budgetTable(&b, s.Budgets)
	}
	if r.Checks != nil {
		r.Checks.markdown(&b)
	}
	return b.String()
}

func budgetTable(b *strings.Builder, budgets []budget) {
	b.WriteString("\n| budget | limit | actual | |\n|---|---|---|---|\n")
	for _, bu := range budgets {
		mark := "ok"
		if !bu.OK {
			mark = "MISSED"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", bu.Name, bu.Limit, bu.Actual, mark)
	}
	b.WriteString("\n")
}

func (r *report) write(dir, table string) error {
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(table), 0o644); err != nil {
		return err
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), append(j, '\n'), 0o644)
}
