package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// parallelism is Terraform's default -parallelism.
const parallelism = 10

// measurement is one row of the table: the median wall time of its runs,
// the requests of the median run by service and class, and the provider's
// peak memory over all runs.
type measurement struct {
	Name      string                    `json:"name"`
	WallMS    int64                     `json:"wall_ms"`
	FloorMS   int64                     `json:"floor_ms,omitempty"`
	Requests  map[string]map[string]int `json:"requests"`
	PeakRSSKB int64                     `json:"peak_rss_kb"`
	Runs      []int64                   `json:"runs_ms"`
}

type sizeResult struct {
	N            int           `json:"n"`
	Measurements []measurement `json:"measurements"`
	Floors       []floorSet    `json:"floors"`
	Budgets      []budget      `json:"budgets"`
}

type budget struct {
	Name   string `json:"name"`
	Limit  string `json:"limit"`
	Actual string `json:"actual"`
	OK     bool   `json:"ok"`
}

// providerBlock is the configuration's terraform and provider blocks,
// pointed at the counting proxies.
func (e *env) providerBlock() string {
	return fmt.Sprintf(`terraform {
  required_providers {
    airflowiam = {
      source = "airflowiam/airflowiam"
    }
  }
}

provider "airflowiam" {
  airflow {
    endpoint    = %q
    username    = %q
    password    = %q
    api_version = "v2"
  }
  google {
    access_token             = %q
    iam_endpoint             = %q
    iamcredentials_endpoint  = %q
    oauth2_endpoint          = %q
    resourcemanager_endpoint = %q
  }
  aws {
    region       = %q
    access_key   = %q
    secret_key   = %q
    iam_endpoint = %q
    sts_endpoint = %q
  }
}
`, e.airflow.URL(), e.sandbox.Airflow.Username, e.sandbox.Airflow.Password,
		adminToken, e.google.URL(), e.google.URL(), e.google.URL(), e.google.URL(),
		e.sandbox.Moto.Region, e.sandbox.Moto.AccessKeyID, e.sandbox.Moto.SecretAccessKey, e.aws.URL(), e.aws.URL())
}

func (e *env) config(n int) string {
	var b strings.Builder
	b.WriteString(e.providerBlock())
	fmt.Fprintf(&b, `
locals {
  connections = { for i in range(%d) : format("bench_%%04d", i) => i }
  chains      = { for i in range(%d) : format("chain%%02d", i) => i }
}

resource "airflowiam_connection" "c" {
  for_each      = local.connections
  connection_id = each.key
  conn_type     = "postgres"
  host          = "db-${each.value}.example.com"
  port          = 5432
  login         = "airflow"
  password      = "pw-${each.value}"
  extra         = jsonencode({ sslmode = "require", api_token = "t-${each.value}" })
}

resource "airflowiam_impersonation_chain" "ch" {
  for_each = local.chains
  source   = %q
  chain    = [for hop in range(%d) : format("chain%%02d-hop%%d@%s.iam.gserviceaccount.com", each.value, hop)]
}

resource "airflowiam_web_identity_role" "r" {
  count                  = %d
  name                   = "bench-role-${count.index}"
  google_service_account = %q
  audience               = "bench-${count.index}"
}

resource "airflowiam_connection" "aws" {
  connection_id = "bench_aws"
  conn_type     = "aws"
  extra         = airflowiam_web_identity_role.r[0].airflow_connection_extra
}

data "airflowiam_token_exchange" "check" {
  service_account         = %q
  airflow_connection_id   = airflowiam_connection.aws.connection_id
  gcp_impersonation_chain = airflowiam_impersonation_chain.ch["chain00"].airflow_impersonation_chain
  depends_on              = [airflowiam_impersonation_chain.ch, airflowiam_connection.aws]
}
`, n, chains, workerEmail(), hopsPer, project, roles, workerEmail(), workerEmail())
	return b.String()
}

func (e *env) counts() map[string]map[string]int {
	return map[string]map[string]int{"airflow": e.airflow.reset(), "aws": e.aws.reset(), "google": e.google.reset()}
}

// job is one measurement: prepare (unmeasured, may be nil) and run.
type job struct {
	name    string
	prepare func() error
	run     func() (time.Duration, int64, error)
}

// repeat runs f runs times and keeps the median run's counts.
func (e *env) repeat(name string, runs int, f func() (time.Duration, int64, error)) (*measurement, error) {
	ms, err := e.interleave(runs, job{name: name, run: f})
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// interleave runs the jobs in turn, runs rounds, so that a figure and its
// floor meet the machine in the same state (a background load, a warm or
// cold cache, the neighbours of a shared host) and their ratio measures
// them and not the minutes between them. Each job keeps its median run,
// with that run's request counts.
func (e *env) interleave(runs int, jobs ...job) ([]*measurement, error) {
	type run struct {
		wall   time.Duration
		counts map[string]map[string]int
	}
	all := make([][]run, len(jobs))
	ms := make([]*measurement, len(jobs))
	for k, j := range jobs {
		ms[k] = &measurement{Name: j.name}
	}
	for range runs {
		for k, j := range jobs {
			if j.prepare != nil {
				if err := j.prepare(); err != nil {
					return nil, err
				}
			}
			e.counts()
			wall, rss, err := j.run()
			if err != nil {
				return nil, err
			}
			all[k] = append(all[k], run{wall, e.counts()})
			ms[k].PeakRSSKB = max(ms[k].PeakRSSKB, rss)
			ms[k].Runs = append(ms[k].Runs, wall.Milliseconds())
		}
	}
	for k, m := range ms {
		slices.SortFunc(all[k], func(a, b run) int { return int(a.wall - b.wall) })
		median := all[k][len(all[k])/2]
		m.WallMS, m.Requests = median.wall.Milliseconds(), median.counts
	}
	return ms, nil
}

func (e *env) measure(ctx context.Context, n, runs int, floors bool, log io.Writer) (*sizeResult, error) {
	dir := filepath.Join(e.dir, fmt.Sprintf("n%d", n))
	if err := workDir(dir, e.config(n)); err != nil {
		return nil, err
	}
	provider := e.subject(ctx, "", dir)
	subjects := []*subject{provider}
	if floors {
		for _, kind := range []string{floorData, floorNoop} {
			f, err := e.floorSubject(ctx, kind, n)
			if err != nil {
				return nil, err
			}
			subjects = append(subjects, f)
		}
	}
	defer func() {
		for _, s := range subjects {
			s.cleanUp()
		}
	}()
	res := &sizeResult{N: n}

	// Each figure whose ratio to a floor is a budget is measured in turn
	// with the floors', round by round, so that a figure and its floor
	// meet the machine in the same state (see interleave).
	fmt.Fprintf(log, "bench: N = %d: terraform apply from empty x%d, in turn with the floors'\n", n, runs)
	applies, err := e.interleave(runs, jobsOf(subjects, (*subject).applyJob)...)
	if err != nil {
		return nil, err
	}
	if e.hold {
		return nil, e.holdUntilDone(ctx, dir, log)
	}

	// A refresh is short, and a median of three is at the mercy of one slow
	// neighbour on a shared host, so it gets 2 x runs - 1 rounds.
	rounds := 2*runs - 1
	fmt.Fprintf(log, "bench: N = %d: refresh-only plan x%d, in turn with the floors'\n", n, rounds)
	refreshes, err := e.interleave(rounds, jobsOf(subjects, (*subject).refreshJob)...)
	if err != nil {
		return nil, err
	}
	refresh := refreshes[0]

	if err := e.changeConnections(ctx, 10); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "bench: N = %d: refresh-only plan after 10 out-of-band changes x%d\n", n, runs)
	drift, err := e.repeat("refresh-only plan, 10 changed", runs,
		func() (time.Duration, int64, error) { return provider.tf("plan", "-refresh-only", "-lock=false") })
	if err != nil {
		return nil, err
	}

	fmt.Fprintf(log, "bench: N = %d: the floor x%d\n", n, runs)
	floor, err := e.repeat("direct reads (floor of issue 8)", runs, func() (time.Duration, int64, error) {
		start := time.Now()
		err := e.floor(ctx, n)
		return time.Since(start), 0, err
	})
	if err != nil {
		return nil, err
	}
	refresh.FloorMS, drift.FloorMS = floor.WallMS, floor.WallMS

	fmt.Fprintf(log, "bench: N = %d: terraform destroy x%d, in turn with the floors'\n", n, runs)
	destroys, err := e.interleave(runs, jobsOf(subjects, (*subject).destroyJob)...)
	if err != nil {
		return nil, err
	}
	for k, s := range subjects[1:] {
		res.Floors = append(res.Floors, floorSet{Kind: s.kind, Apply: applies[k+1], Refresh: refreshes[k+1], Destroy: destroys[k+1]})
	}
	res.Measurements = []measurement{*applies[0], *refresh, *drift, *destroys[0], *floor}
	res.Budgets = budgets(n, res.Measurements, res.Floors)
	return res, nil
}

// subject is one configuration in its working directory: the provider's
// (kind "") or a floor's.
type subject struct {
	kind    string
	tf      func(args ...string) (time.Duration, int64, error)
	applied bool
}

func (e *env) subject(ctx context.Context, kind, dir string) *subject {
	return &subject{kind: kind, tf: func(args ...string) (time.Duration, int64, error) {
		return e.terraformRun(ctx, dir, append(args, "-input=false", "-no-color")...)
	}}
}

// name is the measurement's name for the subject: the provider's as is, a
// floor's after its kind.
func (s *subject) name(what string) string {
	if s.kind == "" {
		return what
	}
	return s.kind + ": " + what
}

// applyJob times terraform apply from empty, destroying first when applied.
func (s *subject) applyJob() job {
	return job{name: s.name("apply from empty"), prepare: func() error {
		if s.applied {
			if _, _, err := s.tf("destroy", "-auto-approve"); err != nil {
				return err
			}
		}
		s.applied = true
		return nil
	}, run: func() (time.Duration, int64, error) { return s.tf("apply", "-auto-approve") }}
}

// refreshJob times a refresh-only plan with nothing changed.
func (s *subject) refreshJob() job {
	name := "refresh-only plan"
	if s.kind == "" {
		name = "refresh-only plan, no change"
	}
	return job{name: s.name(name), run: func() (time.Duration, int64, error) {
		return s.tf("plan", "-refresh-only", "-lock=false")
	}}
}

// destroyJob times terraform destroy, applying first when destroyed.
func (s *subject) destroyJob() job {
	return job{name: s.name("destroy"), prepare: func() error {
		if !s.applied {
			if _, _, err := s.tf("apply", "-auto-approve"); err != nil {
				return err
			}
		}
		s.applied = false
		return nil
	}, run: func() (time.Duration, int64, error) { return s.tf("destroy", "-auto-approve") }}
}

// cleanUp destroys what is still applied.
func (s *subject) cleanUp() {
	if s.applied {
		_, _, _ = s.tf("destroy", "-auto-approve", "-parallelism=20")
	}
}

// jobsOf is each subject's job.
func jobsOf(subjects []*subject, jobOf func(*subject) job) []job {
	jobs := make([]job, len(subjects))
	for k, s := range subjects {
		jobs[k] = jobOf(s)
	}
	return jobs
}

// workDir makes dir afresh with config as its main.tf.
func workDir(dir, config string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o600)
}

// holdUntilDone keeps the sandbox for -hold until ctx ends.
func (e *env) holdUntilDone(ctx context.Context, dir string, log io.Writer) error {
	fmt.Fprintf(log, "bench: holding until interrupted; to run Terraform by hand:\n  cd %s && TF_CLI_CONFIG_FILE=%s %s plan -refresh-only\n",
		dir, e.cliConfig, e.terraform)
	<-ctx.Done()
	return ctx.Err()
}

// changeConnections changes the host of k connections straight through
// Airflow's API (not through the counting proxy).
func (e *env) changeConnections(ctx context.Context, k int) error {
	c, err := e.airflowClient(e.sandbox.Airflow.URL)
	if err != nil {
		return err
	}
	for i := range k {
		conn, err := c.GetConnection(ctx, fmt.Sprintf("bench_%04d", i))
		if err != nil {
			return err
		}
		conn.Host, conn.Password = airflowString("changed-out-of-band.example.com"), nil
		if _, err := c.UpdateConnection(ctx, conn, []string{airflow.FieldHost}); err != nil {
			return err
		}
	}
	return nil
}

func airflowString(s string) *string { return &s }

func (e *env) airflowClient(url string) (*airflow.Client, error) {
	return airflow.NewClient(airflow.Config{
		Endpoint: url, Username: e.sandbox.Airflow.Username, Password: e.sandbox.Airflow.Password, APIVersion: airflow.VersionV2,
	})
}

// floor issues the reads a refresh needs, one by one, straight to the
// APIs, parallelism at a time: each connection, each chain account's IAM
// policy, each role (with its policies and tags), and the check's calls.
func (e *env) floor(ctx context.Context, n int) error {
	af, err := e.airflowClient(e.airflow.URL())
	if err != nil {
		return err
	}
	g, err := gcpiam.NewClient(ctx, gcpiam.Config{AccessToken: adminToken, IAMEndpoint: e.google.URL(),
		IAMCredentialsEndpoint: e.google.URL(), OAuth2Endpoint: e.google.URL()})
	if err != nil {
		return err
	}
	a := awsiam.NewClient(e.sandbox.Moto.AWSConfig(), awsiam.Endpoints{IAM: e.aws.URL(), STS: e.aws.URL()})
	var jobs []func() error
	for i := range n {
		jobs = append(jobs, func() error { _, err := af.GetConnection(ctx, fmt.Sprintf("bench_%04d", i)); return err })
	}
	jobs = append(jobs, func() error { _, err := af.GetConnection(ctx, "bench_aws"); return err })
	for i := range chains {
		for hop := range hopsPer {
			jobs = append(jobs, func() error { _, err := g.Policy(ctx, chainAccount(i, hop)); return err })
		}
	}
	for i := range roles {
		jobs = append(jobs, func() error { _, err := a.GetRole(ctx, fmt.Sprintf("bench-role-%d", i)); return err })
	}
	jobs = append(jobs, func() error { return floorCheck(ctx, af, g, a, e.sandbox.Moto.AccountID) })

	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, job := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := job(); err != nil {
				mu.Lock()
				first = cmpOr(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// floorCheck makes the check's remote calls directly.
func floorCheck(ctx context.Context, af *airflow.Client, g *gcpiam.Client, a *awsiam.Client, accountID string) error {
	if _, err := g.CallerEmail(ctx); err != nil {
		return err
	}
	conn, err := af.GetConnection(ctx, "bench_aws")
	if err != nil {
		return err
	}
	_ = conn
	token, err := g.GenerateIDToken(ctx, workerEmail(), nil, "bench-0", true)
	if err != nil {
		return err
	}
	if _, err := g.VerifyIDToken(ctx, token); err != nil {
		return err
	}
	roleARN := "arn:aws:iam::" + accountID + ":role/bench-role-0"
	if _, err := a.TrustPolicy(ctx, roleARN); err != nil {
		return err
	}
	creds, err := a.AssumeRoleWithWebIdentity(ctx, roleARN, "floor", token)
	if err != nil {
		return err
	}
	if _, _, err := a.CallerIdentity(ctx, creds); err != nil {
		return err
	}
	_, err = g.GenerateAccessToken(ctx, chainAccount(0, 1), []string{workerEmail(), chainAccount(0, 0)}, nil)
	return err
}
