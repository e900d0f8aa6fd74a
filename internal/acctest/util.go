package acctest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// findRepoRoot walks up from dir to the directory holding go.mod.
func findRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("acctest: no go.mod in %s or any parent directory", dir)
		}
		d = parent
	}
}

// cacheDir is the cache root shared with scripts/testenv.sh.
func cacheDir() string {
	if d := os.Getenv("AIRFLOWIAM_CACHE_DIR"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "terraform-provider-airflowiam")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("unexpected listener address %v", l.Addr())
	}
	return addr.Port, nil
}

// newFernetKey returns a Fernet key: 32 random bytes, URL-safe base64 with padding.
func newFernetKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

func randomHex(nBytes int) (string, error) {
	b := make([]byte, nBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// tail returns the last logTailLines lines of s.
func tail(s string) string {
	n := logTailLines
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tailFile returns the last logTailLines lines of the file at path (reading at most its last 256 KiB).
func tailFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	const max = 256 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		if _, err := f.Seek(fi.Size()-max, io.SeekStart); err != nil {
			return fmt.Sprintf("(cannot read log: %v)", err)
		}
	}
	buf := make([]byte, max)
	k, _ := f.Read(buf)
	return tail(string(buf[:k]))
}

// procInfo is what /proc/PID/stat tells about a process.
type procInfo struct {
	state     byte
	pgrp      int
	startTime uint64 // clock ticks after boot; tells a pid's reuse apart
}

func readProc(pid int) (procInfo, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, err
	}
	// The command name (field 2) is in parentheses and may contain anything.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procInfo{}, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return procInfo{}, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return procInfo{}, err
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procInfo{}, err
	}
	return procInfo{state: f[0][0], pgrp: pgrp, startTime: start}, nil
}

// allPids lists the pids in /proc.
func allPids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// groupMembers lists the live (not zombie) processes of process group pgid.
func groupMembers(pgid int) []int {
	var pids []int
	for _, pid := range allPids() {
		p, err := readProc(pid)
		if err == nil && p.pgrp == pgid && p.state != 'Z' && p.state != 'X' {
			pids = append(pids, pid)
		}
	}
	return pids
}

func cmdline(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// writePidfile records a started process group under runDir, together with
// this process (the owner), so that a later run can tell a crashed run's
// leftovers from a concurrent live run.
func writePidfile(runDir, name string, pgid int, home string) (string, error) {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return "", err
	}
	self, err := readProc(os.Getpid())
	if err != nil {
		return "", err
	}
	path := filepath.Join(runDir, fmt.Sprintf("%s-%d.pid", name, pgid))
	content := fmt.Sprintf("pgid=%d\nowner=%d\nowner_start=%d\nhome=%s\n", pgid, os.Getpid(), self.startTime, home)
	return path, os.WriteFile(path, []byte(content), 0o644)
}

type pidfile struct {
	pgid, owner int
	ownerStart  uint64
	home        string
}

func readPidfile(path string) (pidfile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return pidfile{}, err
	}
	var pf pidfile
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "pgid":
			pf.pgid, _ = strconv.Atoi(v)
		case "owner":
			pf.owner, _ = strconv.Atoi(v)
		case "owner_start":
			pf.ownerStart, _ = strconv.ParseUint(v, 10, 64)
		case "home":
			pf.home = v
		}
	}
	if pf.pgid <= 1 {
		return pidfile{}, fmt.Errorf("%s: no valid pgid", path)
	}
	return pf, nil
}

// cleanStalePidfiles kills the process groups listed in pidfiles whose owner
// (the test process that started them) is gone, but only when a live process
// of the group has one of keywords in its command line, and removes those
// pidfiles and the temporary homes they name.
func cleanStalePidfiles(runDir string, keywords []string, logf func(string, ...any)) {
	paths, _ := filepath.Glob(filepath.Join(runDir, "*.pid"))
	for _, path := range paths {
		pf, err := readPidfile(path)
		if err != nil {
			logf("removing unreadable pidfile: %v", err)
			os.Remove(path)
			continue
		}
		if owner, err := readProc(pf.owner); err == nil && owner.startTime == pf.ownerStart && owner.state != 'Z' {
			continue // its test run is still going
		}
		var match []string
		for _, pid := range groupMembers(pf.pgid) {
			c := cmdline(pid)
			if slices.ContainsFunc(keywords, func(k string) bool { return strings.Contains(c, k) }) {
				match = append(match, fmt.Sprintf("%d (%s)", pid, c))
			}
		}
		if len(match) > 0 {
			logf("killing process group %d left over by an earlier run: %s", pf.pgid, strings.Join(match, ", "))
			_ = syscall.Kill(-pf.pgid, syscall.SIGKILL) // best effort; waitGroupGone checks
			waitGroupGone(pf.pgid, 5*time.Second)
		}
		if pf.home != "" && filepath.Dir(pf.home) == filepath.Clean(os.TempDir()) && strings.HasPrefix(filepath.Base(pf.home), "airflowiam-") {
			os.RemoveAll(pf.home)
		}
		os.Remove(path)
	}
}
