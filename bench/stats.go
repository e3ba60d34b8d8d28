package bench

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// samples collects durations.
type samples []time.Duration

// time runs fn and records its duration.
func (s *samples) time(fn func() error) error {
	start := time.Now()
	err := fn()
	*s = append(*s, time.Since(start))
	return err
}

// p50 returns the median (zero for no samples).
func (s samples) p50() time.Duration { return s.quantile(0.5) }

// quantile returns the q-quantile by the nearest-rank method.
func (s samples) quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	i := int(q*float64(len(c))+0.5) - 1
	return c[min(max(i, 0), len(c)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mbps returns bytes per elapsed second in MB/s (10^6 bytes).
func mbps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / 1e6 / d.Seconds()
}

// perSecond returns n per elapsed second.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// peakRSS measures the peak resident set size of this process while fn runs,
// in MiB: it returns freed memory to the OS, resets the kernel's high-water
// mark (/proc/self/clear_refs, Linux) and reads VmHWM afterwards. ok is
// false where that is not available.
func peakRSS(fn func() error) (mib float64, ok bool, err error) {
	runtime.GC()
	debug.FreeOSMemory()
	ok = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	err = fn()
	if !ok {
		return 0, false, err
	}
	kb, found := procStatus("VmHWM")
	if !found {
		return 0, false, err
	}
	return float64(kb) / 1024, true, err
}

// procStatus reads a kB field of /proc/self/status.
func procStatus(field string) (int64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return n, err == nil
	}
	return 0, false
}
