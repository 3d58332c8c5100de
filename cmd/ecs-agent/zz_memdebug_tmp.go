package main

// TEMPORARY (memory investigation; to be removed).

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
)

func init() {
	dir := os.Getenv("ECSD_DEBUG_MEM")
	if dir == "" {
		return
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		for i := 0; ; i++ {
			<-ch
			if os.Getenv("ECSD_DEBUG_MEM_GC") != "" {
				runtime.GC()
			}
			f, _ := os.Create(filepath.Join(dir, fmt.Sprintf("heap%d.pprof", i)))
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
			f, _ = os.Create(filepath.Join(dir, fmt.Sprintf("metrics%d.txt", i)))
			descs := metrics.All()
			samples := make([]metrics.Sample, len(descs))
			for i := range samples {
				samples[i].Name = descs[i].Name
			}
			metrics.Read(samples)
			for _, s := range samples {
				switch s.Value.Kind() {
				case metrics.KindUint64:
					fmt.Fprintf(f, "%s %d\n", s.Name, s.Value.Uint64())
				case metrics.KindFloat64:
					fmt.Fprintf(f, "%s %g\n", s.Name, s.Value.Float64())
				}
			}
			f.Close()
		}
	}()
}
