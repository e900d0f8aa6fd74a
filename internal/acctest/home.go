package acctest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// homeConfig is the configuration of one AIRFLOW_HOME: the venv that runs it
// and the secrets of this run.
type homeConfig struct {
	spec      spec
	venv      string
	home      string
	fernetKey string
	secretKey string            // Airflow 2 webserver secret key / Airflow 3 API secret key
	jwtSecret string            // Airflow 3
	passwords map[string]string // user -> password
}

func newHomeConfig(sp spec, venv, home string) (*homeConfig, error) {
	cfg := &homeConfig{spec: sp, venv: venv, home: home, passwords: map[string]string{}}
	var err error
	if cfg.fernetKey, err = newFernetKey(); err != nil {
		return nil, err
	}
	// Long secrets only: Airflow masks every API value equal to a known secret.
	for _, p := range []*string{&cfg.secretKey, &cfg.jwtSecret} {
		if *p, err = randomHex(32); err != nil {
			return nil, err
		}
	}
	for _, u := range []string{adminUser, viewerUser} {
		if cfg.passwords[u], err = randomHex(16); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func (c *homeConfig) airflowBin() string { return filepath.Join(c.venv, "bin", "airflow") }
func (c *homeConfig) pythonBin() string  { return filepath.Join(c.venv, "bin", "python") }

// environ is the environment of airflow commands run with AIRFLOW_HOME=home:
// the inherited one without any Airflow or Python settings, plus ours.
func (c *homeConfig) environ(home string) []string {
	env := venvEnviron(c.venv, func(key string) bool { return strings.HasPrefix(key, "AIRFLOW") })
	env = append(env,
		"AIRFLOW_HOME="+home,
		"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///"+filepath.Join(home, "airflow.db"),
		"AIRFLOW__CORE__LOAD_EXAMPLES=False",
		"AIRFLOW__CORE__FERNET_KEY="+c.fernetKey,
	)
	if c.spec.name == "airflow3" {
		env = append(env,
			"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="+adminUser+":admin,"+viewerUser+":viewer",
			"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="+filepath.Join(home, "passwords.json"),
			"AIRFLOW__API_AUTH__JWT_SECRET="+c.jwtSecret,
			"AIRFLOW__API__SECRET_KEY="+c.secretKey,
		)
	} else {
		env = append(env,
			"AIRFLOW__API__AUTH_BACKENDS=airflow.api.auth.backend.basic_auth",
			"AIRFLOW__WEBSERVER__SECRET_KEY="+c.secretKey,
		)
	}
	return env
}

// venvEnviron is the environment of a server run from venv: the inherited
// one without the variables drop selects and without Python settings, with
// venv/bin first on PATH and unbuffered output (for the logs).
func venvEnviron(venv string, drop func(key string) bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if drop(k) || k == "PYTHONPATH" || k == "PYTHONHOME" || k == "PYTHONUNBUFFERED" || k == "VIRTUAL_ENV" || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"PATH="+filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PYTHONUNBUFFERED=1",
	)
}

// prepareHome gives c.home a database (a copy of the per-version template, or
// a fresh migration when there is no template) and this run's credentials.
func (r *runner) prepareHome(c *homeConfig) error {
	if c.spec.name == "airflow3" {
		data, err := json.Marshal(c.passwords)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.home, "passwords.json"), data, 0o600); err != nil {
			return err
		}
	}
	tmpl, err := r.ensureTemplate(c)
	if err == nil {
		err = copyFile(filepath.Join(tmpl, "airflow.db"), filepath.Join(c.home, "airflow.db"))
	}
	if err != nil {
		if errors.Is(err, errStopped) {
			return err
		}
		r.logf("%s: no template database (%v); migrating a fresh one", c.spec.name, err)
		if err := r.initDB(c, c.home); err != nil {
			return err
		}
	}
	if c.spec.name == "airflow2" {
		// Airflow 2 keeps users in the database: give them this run's passwords.
		data, err := json.Marshal(c.passwords)
		if err != nil {
			return err
		}
		return r.runAirflow(c, c.home, strings.NewReader(string(data)),
			c.pythonBin(), "-c", dbHelper, "set-passwords", filepath.Join(c.home, "airflow.db"))
	}
	return nil
}

// initDB migrates a new database in dir and, for Airflow 2, creates the FAB
// roles and the users (without passwords; prepareHome sets them).
func (r *runner) initDB(c *homeConfig, dir string) error {
	if err := r.runAirflow(c, dir, nil, c.airflowBin(), "db", "migrate"); err != nil {
		return err
	}
	if c.spec.name != "airflow2" {
		return nil
	}
	// The Viewer (and Op, User) roles exist only once permissions are synced.
	if err := r.runAirflow(c, dir, nil, c.airflowBin(), "sync-perm"); err != nil {
		return err
	}
	type user struct {
		Username  string   `json:"username"`
		Firstname string   `json:"firstname"`
		Lastname  string   `json:"lastname"`
		Email     string   `json:"email"`
		Roles     []string `json:"roles"`
	}
	data, err := json.Marshal([]user{
		{adminUser, "Admin", "User", adminUser + "@example.com", []string{"Admin"}},
		{viewerUser, "Viewer", "User", viewerUser + "@example.com", []string{"Viewer"}},
	})
	if err != nil {
		return err
	}
	usersFile := filepath.Join(dir, "users.json")
	if err := os.WriteFile(usersFile, data, 0o600); err != nil {
		return err
	}
	return r.runAirflow(c, dir, nil, c.airflowBin(), "users", "import", usersFile)
}

// templateFormat is part of the template stamp; change it when initDB changes.
const templateFormat = "2"

// ensureTemplate returns a directory holding airflow.db, migrated once per
// venv (the stamp follows the venv's stamp) under $CACHE/templates.
func (r *runner) ensureTemplate(c *homeConfig) (string, error) {
	venvStamp, err := os.ReadFile(filepath.Join(c.venv, ".testenv-stamp"))
	if err != nil {
		return "", err
	}
	stamp := strings.TrimSpace(string(venvStamp)) + " template-format=" + templateFormat + "\n"
	base := filepath.Join(r.cacheDir, "templates")
	dir := filepath.Join(base, "airflow-"+c.spec.version)
	ok := func() bool {
		got, err := os.ReadFile(filepath.Join(dir, ".stamp"))
		if err != nil || string(got) != stamp {
			return false
		}
		_, err = os.Stat(filepath.Join(dir, "airflow.db"))
		return err == nil
	}
	if ok() {
		return dir, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	unlock, err := r.lockFile(filepath.Join(base, ".airflow-"+c.spec.version+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if ok() { // made by a concurrent test process while we waited
		return dir, nil
	}

	// Holding the lock, no one else builds this template: remove what a
	// killed earlier build left behind.
	if stale, _ := filepath.Glob(filepath.Join(base, ".tmp-airflow-"+c.spec.version+"-*")); len(stale) > 0 {
		for _, d := range stale {
			os.RemoveAll(d)
		}
	}
	r.logf("%s: creating template database in %s", c.spec.name, dir)
	began := time.Now()
	if err := r.buildTemplate(c, base, dir, stamp); err != nil {
		return "", err
	}
	r.logf("%s: template database ready in %.1fs", c.spec.name, time.Since(began).Seconds())
	return dir, nil
}

// buildTemplate migrates a database in a temporary directory under base,
// stamps it and moves it to dir.
func (r *runner) buildTemplate(c *homeConfig, base, dir, stamp string) error {
	tmp, err := os.MkdirTemp(base, ".tmp-airflow-"+c.spec.version+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The template's own secrets are throw-away: nothing in the database
	// depends on them (checked by the finish-template helper).
	tc, err := newHomeConfig(c.spec, c.venv, tmp)
	if err != nil {
		return err
	}
	if err := r.initDB(tc, tmp); err != nil {
		return err
	}
	if err := r.runAirflow(tc, tmp, nil, tc.pythonBin(), "-c", dbHelper, "finish-template", filepath.Join(tmp, "airflow.db")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".stamp"), []byte(stamp), 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// lockFile takes an exclusive flock on path, giving up when the runner stops.
func (r *runner) lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %v", path, err)
		}
		select {
		case <-r.ctx.Done():
			f.Close()
			return nil, errStopped
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// dbHelper runs with the venv's python on a sqlite Airflow database.
//
//	finish-template DB: checkpoint the WAL into DB, so that copying DB alone is
//	  complete, and check that nothing in it is encrypted with the template's Fernet key.
//	set-passwords DB: set the passwords of Airflow 2 (FAB) users from a JSON
//	  object {"user": "password"} on stdin, hashed as FAB does.
const dbHelper = `
import json, sqlite3, sys
cmd, db = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db, timeout=30)
if cmd == "finish-template":
    bad = []
    for table, cond in (("connection", "is_encrypted OR is_extra_encrypted"), ("variable", "is_encrypted")):
        try:
            n = con.execute("SELECT COUNT(*) FROM %s WHERE %s" % (table, cond)).fetchone()[0]
        except sqlite3.OperationalError:
            n = 0
        if n:
            bad.append("%d encrypted rows in %s" % (n, table))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    if bad:
        sys.exit("template database holds data encrypted with its own Fernet key: " + ", ".join(bad))
elif cmd == "set-passwords":
    from werkzeug.security import generate_password_hash
    for user, password in json.load(sys.stdin).items():
        n = con.execute("UPDATE ab_user SET password = ? WHERE username = ?",
                        (generate_password_hash(password), user)).rowcount
        if n != 1:
            sys.exit("user %r not found in ab_user" % user)
    con.commit()
    con.close()
else:
    sys.exit("unknown command " + cmd)
`
