package acctest

import (
	"path/filepath"
	"slices"
	"testing"
)

type workerEnv struct {
	env  []string
	venv string
}

// AirflowWorker returns the python of af's venv and the environment in
// which Airflow code run with it acts as one of af's workers: af's own
// AIRFLOW_HOME, database and Fernet key, so that hooks read the
// connections the provider wrote through af's REST API from the same
// database, the way a task on that deployment does. It skips the test
// for a server named by AIRFLOWIAM_TEST_AIRFLOW3_URL, whose database is
// not on this machine.
func AirflowWorker(t testing.TB, af *Airflow) (python string, env []string) {
	t.Helper()
	if af == nil {
		return "", nil
	}
	if af.worker == nil {
		t.Skipf("acctest: %s was not started by this run (its database is elsewhere); this test runs Airflow's own code on it", af.Name)
		return "", nil
	}
	return filepath.Join(af.worker.venv, "bin", "python"), slices.Clone(af.worker.env)
}

// WorkerEnv is AirflowWorker for programs (the sandbox): the python and
// the environment, or "" and nil for a server this process did not start.
func (af *Airflow) WorkerEnv() (python string, env []string) {
	if af.worker == nil {
		return "", nil
	}
	return filepath.Join(af.worker.venv, "bin", "python"), slices.Clone(af.worker.env)
}
