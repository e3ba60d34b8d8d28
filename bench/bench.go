// Package bench measures stowage against the raw SDK on the same server in
// the same run: every figure is reported as a ratio (stowage / baseline)
// with both absolutes, so the numbers say what stowage costs on top of the
// storage it stands on rather than how fast a particular machine is. It is
// the library behind `stowage bench`.
//
// The baseline of an S3 store is aws-sdk-go-v2 called directly with its
// default configuration; of a file store, the plain os operations that give
// the same durability (temporary file, fsync, rename, fsync of the
// directory; an flock around a compare-and-swap). Latency figures
// interleave stowage and baseline samples so that drift on a busy machine
// hits both alike.
//
// Everything is written under a fresh prefix (bench-<ulid>/) of the store
// and deleted at the end.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/objstore"
	_ "github.com/stowage-dev/stowage/objstore/all" // the S3 backends of URLs
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// Figure names, in the order they run.
const (
	AttachPut       = "attach_put"
	AttachPeakRSS   = "attach_put_peak_rss"
	AttachGet       = "attach_get"
	CommitP50       = "commit_p50"
	CommitPutBytes  = "commit_put_bytes"
	CommitCPU       = "commit_cpu_us"
	CommitAttachP50 = "commit_attach_p50"
	CommitAt10k     = "commit_at_10k_revisions"
	LoadP50         = "load_p50"
	LoadColdP50     = "load_cold_p50"
	LoadCachedP50   = "load_cached_p50"
	ConcurrentComms = "concurrent_commits"
	Sweep           = "sweep"
	// Direct transfer (docs/attachments.md).
	DirectPut           = "direct_put"
	DirectPutAgentCPU   = "direct_put_agent_cpu"
	DirectPutAgentBytes = "direct_put_agent_bytes"
	// The long session and many sessions (docs/performance.md).
	LongCommitMax     = "long_session_commit_max"
	LongAmplification = "long_session_bucket_over_live"
	LongLoadNode      = "long_session_cold_load_node"
	LongActivePath    = "long_session_cold_active_path"
	ManySessions      = "many_sessions_rss"
)

// Figures lists every figure name in run order.
func Figures() []string {
	return []string{AttachPut, AttachPeakRSS, AttachGet, CommitP50, CommitPutBytes, CommitCPU, CommitAttachP50, CommitAt10k, LoadP50, LoadColdP50, LoadCachedP50, ConcurrentComms, Sweep,
		DirectPut, DirectPutAgentCPU, DirectPutAgentBytes,
		LongCommitMax, LongAmplification, LongLoadNode, LongActivePath, ManySessions}
}

// Config sizes a run. Zero fields take the defaults of Full or Quick.
type Config struct {
	// URL names the store (see package objstore/openurl).
	URL string
	// Getenv reads the environment (endpoint and region fallbacks); nil
	// means os.Getenv.
	Getenv func(string) string
	// Quick scales every size down for a run of about a minute.
	Quick bool
	// Only, if not empty, names the figures to measure (attach_put and
	// attach_put_peak_rss come together; attach_get needs attach_put).
	Only []string

	Samples           int   // latency samples per figure (full 200, quick 40)
	Revisions         int   // the long session's revisions (10,000; quick 1,000)
	Nodes             int   // nodes of the loaded session (1,000; quick 1,000)
	Sessions          int   // concurrent sessions (64; quick 64)
	CommitsPerSession int   // commits per session per round (20; quick 5)
	AttachSize        int64 // bytes of the attachment (1 GiB; quick 64 MiB)
	PartSize          int64 // multipart part size (16 MiB)
	Concurrency       int   // parts in flight (4)
	Orphans           int   // orphans swept (20,000; quick 2,000)
	LongRevisions     int   // the long session's revisions (50,000; quick 5,000)
	ManySessions      int   // kept handles (5,000; quick 500)
	// Progress, if set, receives a line per step.
	Progress func(string)
	// Logger receives stowage's warnings; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(v *int, full, quick int) {
		if *v <= 0 {
			*v = full
			if c.Quick {
				*v = quick
			}
		}
	}
	def(&c.Samples, 200, 40)
	def(&c.Revisions, 10_000, 1_000)
	def(&c.Nodes, 1_000, 1_000)
	def(&c.Sessions, 64, 64)
	def(&c.CommitsPerSession, 20, 5)
	def(&c.Concurrency, objstore.DefaultConcurrency, objstore.DefaultConcurrency)
	def(&c.Orphans, 20_000, 2_000)
	def(&c.LongRevisions, 50_000, 5_000)
	def(&c.ManySessions, 5_000, 500)
	if c.AttachSize <= 0 {
		c.AttachSize = 1 << 30
		if c.Quick {
			c.AttachSize = 64 << 20
		}
	}
	if c.PartSize <= 0 {
		c.PartSize = objstore.DefaultPartSize
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Progress == nil {
		c.Progress = func(string) {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Check says how a figure is judged against its target.
type Check string

// Checks.
const (
	RatioAtMost  Check = "ratio<="
	RatioAtLeast Check = "ratio>="
	ValueAtMost  Check = "value<="
)

// Figure is one measurement side by side with its baseline.
type Figure struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Stowage and Baseline are the absolutes; Ratio is Stowage/Baseline.
	Stowage  float64 `json:"stowage"`
	Baseline float64 `json:"baseline"`
	Ratio    float64 `json:"ratio"`
	// BaselineOp describes what the baseline measured.
	BaselineOp string  `json:"baseline_op"`
	Check      Check   `json:"check"`
	Target     float64 `json:"target"`
	Met        bool    `json:"met"`
	// Note records the sizes measured.
	Note string `json:"note,omitempty"`
	// Bound is the ratio the raw SDK reaches, in the same run, doing what
	// the figure's operation cannot do without (BoundOp): the requests
	// stowage made, replayed with none of its own work, or the baseline
	// with the SHA-256 every byte of an attachment needs. A target past it
	// is out of the SDK's reach doing that work on this server (stowage's
	// own S3 client spends less per request than the SDK, so a replay's
	// bound can be beaten). 0: not measured.
	Bound   float64 `json:"bound,omitempty"`
	BoundOp string  `json:"bound_op,omitempty"`
}

func (f *Figure) judge() {
	if f.Baseline != 0 {
		f.Ratio = f.Stowage / f.Baseline
	}
	switch f.Check {
	case RatioAtMost:
		f.Met = f.Ratio <= f.Target
	case RatioAtLeast:
		f.Met = f.Ratio >= f.Target
	case ValueAtMost:
		f.Met = f.Stowage <= f.Target
	}
}

// Machine describes where a run happened.
type Machine struct {
	OS, Arch  string
	CPUs      int
	CPU       string
	GoVersion string
	MemTotal  string
}

// Result is a run's outcome.
type Result struct {
	Store    string        `json:"store"`
	Provider string        `json:"provider"`
	Baseline string        `json:"baseline"`
	Quick    bool          `json:"quick"`
	Machine  Machine       `json:"machine"`
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Figures  []Figure      `json:"figures"`
}

// run is the state of one Run.
type run struct {
	cfg  Config
	objs objstore.Store // the whole store
	pfx  string         // bench-<ulid>/
	raw  Raw
	seq  int
	res  *Result
	// rawAttachKey is the baseline's attachment, for attach_get.
	rawAttachKey string
}

// Run measures the figures on the store cfg.URL names. A figure that cannot
// be measured fails the run; a missed target does not (see Figure.Met).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	spec, err := openurl.ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if dir := absentDir(spec); dir != "" {
		defer os.RemoveAll(dir) // last: the bench made the store, it leaves none
	}
	objs, err := openurl.Open(ctx, cfg.URL, &openurl.Options{Getenv: cfg.Getenv, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer objs.Close()
	r := &run{cfg: cfg, objs: objs, pfx: "bench-" + strings.ToLower(ulid.Make().String()) + "/"}
	r.raw, err = OpenRaw(ctx, cfg.URL, r.pfx+"raw/", cfg.Getenv)
	if err != nil {
		return nil, err
	}
	defer r.raw.Close()
	r.res = &Result{Store: spec.String(), Provider: objs.Capabilities().Provider, Baseline: r.raw.Name(),
		Quick: cfg.Quick, Machine: machine(), Started: time.Now()}
	defer r.cleanup(ctx)
	steps := []struct {
		names []string
		fn    func(context.Context) error
	}{
		{[]string{AttachPut, AttachPeakRSS, AttachGet}, r.attachments},
		{[]string{CommitP50, CommitPutBytes, CommitCPU}, r.commitP50},
		{[]string{CommitAttachP50}, r.commitAttachP50},
		{[]string{CommitAt10k}, r.commitAt10k},
		{[]string{LoadP50, LoadColdP50, LoadCachedP50}, r.loads},
		{[]string{ConcurrentComms}, r.concurrentCommits},
		{[]string{Sweep}, r.sweep},
		{[]string{DirectPut, DirectPutAgentCPU, DirectPutAgentBytes}, r.directPut},
		{[]string{LongCommitMax, LongAmplification, LongLoadNode, LongActivePath}, r.longSession},
		{[]string{ManySessions}, r.manySessions},
	}
	for _, st := range steps {
		if !r.wanted(st.names...) {
			continue
		}
		if err := st.fn(ctx); err != nil {
			return r.res, fmt.Errorf("bench: %s: %w", st.names[0], err)
		}
	}
	r.res.Elapsed = time.Since(r.res.Started)
	return r.res, nil
}

func (r *run) wanted(names ...string) bool {
	if len(r.cfg.Only) == 0 {
		return true
	}
	for _, n := range names {
		for _, o := range r.cfg.Only {
			if o == n {
				return true
			}
		}
	}
	return false
}

func (r *run) progress(format string, args ...any) { r.cfg.Progress(fmt.Sprintf(format, args...)) }

// add records a judged figure and reports it.
func (r *run) add(f Figure) {
	f.judge()
	r.res.Figures = append(r.res.Figures, f)
	verdict := "met"
	if !f.Met {
		verdict = "MISSED"
	}
	r.progress("%s: stowage %.4g %s, baseline %.4g %s, ratio %.3f (target %s %.4g: %s)",
		f.Name, f.Stowage, f.Unit, f.Baseline, f.Unit, f.Ratio, f.Check, f.Target, verdict)
}

// stowage opens a stowage store on a fresh sub-prefix of the run for one
// figure, so that figures (and sweeps) never see each other's objects.
func (r *run) stowage(ctx context.Context, name string) (*stowage.Store, objstore.Store, error) {
	r.seq++
	objs := objstore.WithPrefix(r.objs, fmt.Sprintf("%s%s-%d/", r.pfx, name, r.seq))
	st, err := stowage.OpenStore(ctx, objs, stowage.Config{Logger: r.cfg.Logger})
	return st, objs, err
}

// absentDir is the directory of a file store that does not exist yet, or
// "": the run creates it (the store's layout with it), and removes it at the
// end. A directory that existed keeps the store's layout; the run's objects
// and baseline files are deleted from it.
func absentDir(spec openurl.Spec) string {
	if spec.Scheme != openurl.SchemeFile {
		return ""
	}
	if _, err := os.Stat(spec.Path); !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return spec.Path
}

// cleanup deletes everything the run wrote (best effort).
func (r *run) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	r.progress("cleaning up %s", r.pfx)
	if err := r.raw.Cleanup(ctx); err != nil {
		r.progress("cleanup of the baseline's objects failed: %v", err)
	}
	for u, err := range r.objs.ListUploads(ctx, "") {
		if err != nil {
			break
		}
		if strings.HasPrefix(u.Key, r.pfx) {
			_ = r.objs.AbortUpload(ctx, u.Key, u.UploadID)
		}
	}
	var keys []string
	for info, err := range r.objs.List(ctx, r.pfx, nil) {
		if err != nil {
			r.progress("cleanup: list: %v", err)
			return
		}
		keys = append(keys, info.Key)
	}
	if err := r.objs.DeleteMany(ctx, keys); err != nil {
		r.progress("cleanup: %v", err)
	}
}

func machine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if kb, ok := memTotal(); ok {
		m.MemTotal = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
	}
	return m
}

func memTotal() (int64, bool) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			_, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb, err == nil
		}
	}
	return 0, false
}
