package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	urlFile := filepath.Join(t.TempDir(), "url")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-seed", "../../testdata/seed.json", "-url-file", urlFile, "-issuer", "https://issuer.example", "-propagation-delay", "1s"}, &stdout, &stderr)
	}()

	var base string
	deadline := time.Now().Add(10 * time.Second)
	for base == "" {
		if b, err := os.ReadFile(urlFile); err == nil {
			base = strings.TrimSpace(string(b))
		} else if time.Now().After(deadline) {
			t.Fatalf("no URL file; stderr %s", stderr.String())
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("URL %q", base)
	}

	resp, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var conf map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&conf)
	resp.Body.Close()
	if conf["issuer"] != "https://issuer.example" {
		t.Errorf("issuer %v", conf["issuer"])
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/projects/-/serviceAccounts/airflow-worker@airflow-prod.iam.gserviceaccount.com", nil)
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("seeded account: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
	if strings.TrimSpace(stdout.String()) != base {
		t.Errorf("stdout %q", stdout.String())
	}
	if _, err := http.Get(base + "/oauth2/v3/certs"); err == nil {
		t.Error("still serving after cancel")
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"-no-such-flag"},
		{"extra"},
		{"-seed", "does-not-exist.json"},
		{"-listen", "256.0.0.1:0"},
		{"-url-file", filepath.Join(t.TempDir(), "missing-dir", "url")},
	} {
		var out, errOut bytes.Buffer
		if err := run(ctx, args, &out, &errOut); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
