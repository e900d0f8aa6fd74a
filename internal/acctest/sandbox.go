package acctest

import (
	"errors"
	"io"
	"sync"
)

// Sandbox is Airflow 3 and moto started for a program rather than a test
// (the quickstart's make demo), with the same venvs, process groups and
// watchdog as the acceptance tests.
type Sandbox struct {
	Airflow *Airflow
	Moto    *Moto
	r       *runner
}

// StartSandbox starts Airflow 3 and moto concurrently, reporting progress
// to out. On error nothing is left running.
func StartSandbox(out io.Writer) (*Sandbox, error) {
	r, err := newRunner(out)
	if err != nil {
		return nil, err
	}
	cleanStalePidfiles(r.runDir(), staleKeywords, r.logf)
	s := &Sandbox{r: r}
	var afErr, motoErr error
	var wg sync.WaitGroup
	wg.Go(func() { s.Airflow, afErr = r.obtain(specs[0]) })
	wg.Go(func() { s.Moto, motoErr = r.obtainMoto() })
	wg.Wait()
	if err := errors.Join(afErr, motoErr); err != nil {
		r.stop()
		return nil, err
	}
	return s, nil
}

// Stop stops everything the sandbox started.
func (s *Sandbox) Stop() {
	s.r.stop()
}
