package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"
)

// profileEnv names a directory: when it is set, the provider writes a CPU
// profile of its whole life and, when Terraform stops it, its heap and
// allocation profiles there, with a heap profile and a line of memory
// statistics every second, one set per process (CONTRIBUTING.md,
// Profiling). With profileGCEnv set too, each line follows a collection
// and every allocation is sampled, so what stays live shows exactly.
const (
	profileEnv   = "AIRFLOWIAM_PROFILE_DIR"
	profileGCEnv = "AIRFLOWIAM_PROFILE_GC"
)

// startProfile starts the CPU profile when profileEnv is set and returns
// the function that ends it and writes the memory profiles.
func startProfile() func() {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return func() {}
	}
	if os.Getenv(profileGCEnv) != "" {
		runtime.MemProfileRate = 1
	}
	prefix := filepath.Join(dir, fmt.Sprintf("provider-%d", os.Getpid()))
	cpu, err := os.Create(prefix + ".cpu.pprof")
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		_ = cpu.Close()
		return func() {}
	}
	stop := make(chan struct{})
	go sampleMemory(prefix, stop)
	return func() {
		close(stop)
		pprof.StopCPUProfile()
		_ = cpu.Close()
		runtime.GC()
		for _, name := range []string{"heap", "allocs"} {
			f, err := os.Create(prefix + "." + name + ".pprof")
			if err != nil {
				fmt.Fprintln(os.Stderr, "profile:", err)
				continue
			}
			_ = pprof.Lookup(name).WriteTo(f, 0)
			_ = f.Close()
		}
	}
}

// sampleMemory writes, every second until stop, a heap profile (what the
// last collection found live) and a line of memory statistics.
func sampleMemory(prefix string, stop chan struct{}) {
	log, err := os.Create(prefix + ".mem.txt")
	if err != nil {
		return
	}
	defer func() { _ = log.Close() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var m runtime.MemStats
		if os.Getenv(profileGCEnv) != "" {
			runtime.GC()
		}
		runtime.ReadMemStats(&m)
		fmt.Fprintf(log, "t=%ds heap_alloc=%dK heap_inuse=%dK heap_sys=%dK next_gc=%dK stacks=%dK sys=%dK gc=%d goroutines=%d\n", i+1,
			m.HeapAlloc>>10, m.HeapInuse>>10, m.HeapSys>>10, m.NextGC>>10, m.StackInuse>>10, m.Sys>>10, m.NumGC, runtime.NumGoroutine())
		if f, err := os.Create(fmt.Sprintf("%s.heap-%02d.pprof", prefix, i+1)); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			_ = f.Close()
		}
	}
}
