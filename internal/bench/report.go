package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Targets of issue 8.
const (
	maxFloorRatio = 1.5
	maxRSSKB      = 150 * 1024
)

type report struct {
	Runs   int           `json:"runs"`
	Sizes  []sizeResult  `json:"sizes"`
	Checks *checksResult `json:"checks,omitempty"`
}

// budgets checks the request budgets and the targets for one size.
func budgets(n int, apply, refresh, drift, floor *measurement) []budget {
	var out []budget
	add := func(name, limit, actual string, ok bool) {
		out = append(out, budget{Name: name, Limit: limit, Actual: actual, OK: ok})
	}
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
		add(m.Name+": check's calls (tokeninfo, generateIdToken, certs, generateAccessToken, AssumeRoleWithWebIdentity, GetCallerIdentity)",
			"6", fmt.Sprint(checkCalls), checkCalls == 6)
	}
	hops := chains * hopsPer
	g := apply.Requests["google"]
	iam := g["getIamPolicy"] + g["setIamPolicy"]
	add("apply: IAM policy requests of the chains", fmt.Sprintf("<= 2 x %d hops = %d", hops, 2*hops), fmt.Sprint(iam), iam <= 2*hops)
	if n >= 1000 {
		ratio := float64(refresh.WallMS) / float64(max(floor.WallMS, 1))
		add("refresh-only plan vs the floor", fmt.Sprintf("<= %.1fx", maxFloorRatio), fmt.Sprintf("%.2fx", ratio), ratio <= maxFloorRatio)
		rss := max(apply.PeakRSSKB, refresh.PeakRSSKB, drift.PeakRSSKB)
		add("provider peak memory", fmt.Sprintf("< %d MB", maxRSSKB/1024), fmt.Sprintf("%.1f MB", float64(rss)/1024), rss < maxRSSKB)
	}
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
	fmt.Fprintf(&b, "Median of %d runs. Requests counted at proxies in front of each service (Airflow / Google / AWS).\n\n", r.Runs)
	for _, s := range r.Sizes {
		fmt.Fprintf(&b, "### N = %d connections (+ 20 chains of 2 hops, 5 roles, 1 check)\n\n", s.N)
		b.WriteString("| measurement | wall | floor | requests (Airflow / Google / AWS) | provider peak RSS |\n|---|---:|---:|---:|---:|\n")
		for _, m := range s.Measurements {
			floor := "-"
			if m.FloorMS > 0 {
				floor = fmt.Sprintf("%.2f s", float64(m.FloorMS)/1000)
			}
			rss := "-"
			if m.PeakRSSKB > 0 {
				rss = fmt.Sprintf("%.1f MB", float64(m.PeakRSSKB)/1024)
			}
			fmt.Fprintf(&b, "| %s | %.2f s | %s | %s | %s |\n", m.Name, float64(m.WallMS)/1000, floor, requestsText(m.Requests), rss)
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
