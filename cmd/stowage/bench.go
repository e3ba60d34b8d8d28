package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stowage-dev/stowage/bench"
)

const benchUsage = `Usage: stowage bench --store URL [--store URL2 ...] [--json | --markdown] [--quick] [flags]

Measures stowage side by side with the raw SDK (S3) or plain os file
operations (file stores) on the same server in the same run, and reports each
figure as a ratio stowage/baseline with both absolutes:

  attach_put               MB/s, a stream of unknown size vs an SDK multipart upload  (ratio >= 0.95)
  attach_put_peak_rss      MiB of the whole process during that put                  (<= 160 MiB)
  attach_get               MB/s, full read with digest check vs a GET                 (ratio >= 0.95)
  commit_p50               ms, an 8 KiB-delta turn commit vs one If-Match PUT         (ratio <= 1.2)
  commit_put_bytes         bytes of that commit's head PUT vs the 8 KiB delta         (ratio <= 2)
  commit_cpu_us            process CPU per commit vs per If-Match PUT                 (ratio <= 2)
  commit_attach_p50        ms, the commit of a turn that put an attachment vs the PUT (ratio <= 1.2)
  commit_at_10k_revisions  ms, commit p50 at revision 10,000 vs at revision 10        (ratio <= 1.2)
  load_p50                 ms, ActivePath load of 1,000 nodes, fresh handle, shared
                           cache warm, vs GET of the same bytes                       (ratio <= 1.3)
  load_cold_p50            ms, the same load by a new Store with nothing cached       (ratio <= 2.0)
  load_cached_p50          ms, repeat load, unchanged vs a conditional GET (304)      (ratio <= 1.15)
  concurrent_commits       commits/s, 64 sessions at once vs If-Match PUTs/s          (ratio >= 0.75)
  sweep                    orphans/s, 20,000 orphans vs ListObjectsV2 + DeleteObjects (ratio >= 0.8)
  long_session_commit_max        ms, commit max at revision 50,000 vs p99 at 1-1,000  (ratio <= 3)
  long_session_bucket_over_live  bucket bytes / live bytes of that session, no sweep  (<= 2)
  long_session_cold_load_node    requests of a cold LoadNode of an old node          (<= 3)
  long_session_cold_active_path  KiB read by a cold ActivePath vs the nodes returned  (ratio <= 4)
  many_sessions_rss              MiB resident with 5,000 kept handles after a load   (<= 256 MiB)

Everything is written under a fresh prefix bench-<id>/ and deleted at the end
(a file store the bench had to create, in a directory that did not exist, is
removed with its directory).
A missed target is reported, not an error (exit 0). Sizes scale down with
--quick or the flags below.

BOUND (bound in --json), for attach_put, attach_get, load_cold_p50 and
concurrent_commits: the ratio the baseline reaches doing only what stowage
cannot do without (the SHA-256 of every byte; the requests stowage made,
replayed). A target past its bound is out of the SDK's reach on that server.
`

// stores is a repeatable --store flag.
type stores []string

func (s *stores) String() string { return strings.Join(*s, ",") }
func (s *stores) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// benchArgs are the parsed flags of stowage bench.
type benchArgs struct {
	urls                 stores
	asJSON, markdown     *bool
	out, only            *string
	attachSize, partSize *string
	cfg                  bench.Config
}

// benchFlags declares the flags of stowage bench into a.
func (e *env) benchFlags(a *benchArgs) *flag.FlagSet {
	fs := e.newFlags("bench", benchUsage)
	cfg := &a.cfg
	fs.Var(&a.urls, "store", "store `URL` (repeatable) [STOWAGE_STORE]")
	a.asJSON = fs.Bool("json", false, "print the results as JSON")
	a.markdown = fs.Bool("markdown", false, "print one Markdown table of all stores")
	a.out = fs.String("out", "", "also write the JSON results to `file`")
	fs.BoolVar(&cfg.Quick, "quick", false, "scale every size down (about a minute per store)")
	a.only = fs.String("only", "", "comma-separated figure names to measure")
	fs.IntVar(&cfg.Samples, "samples", 0, "latency samples per figure (default 200, quick 40)")
	fs.IntVar(&cfg.Revisions, "revisions", 0, "revisions of the long session (default 10000, quick 1000)")
	fs.IntVar(&cfg.Nodes, "nodes", 0, "nodes of the loaded session (default 1000)")
	fs.IntVar(&cfg.Sessions, "sessions", 0, "concurrent sessions (default 64)")
	fs.IntVar(&cfg.CommitsPerSession, "commits", 0, "commits per session per round (default 20, quick 5)")
	a.attachSize = fs.String("attach-size", "", "attachment size, e.g. 1GiB, 64MiB (default 1GiB, quick 64MiB)")
	a.partSize = fs.String("part-size", "", "multipart part size (default 16MiB)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "parts in flight (default 4)")
	fs.IntVar(&cfg.Orphans, "orphans", 0, "orphans to sweep (default 20000, quick 2000)")
	fs.IntVar(&cfg.LongRevisions, "long-revisions", 0, "revisions of the long_session figures (default 50000, quick 5000)")
	fs.IntVar(&cfg.ManySessions, "many-sessions", 0, "kept handles of many_sessions_rss (default 5000, quick 500)")
	return fs
}

func runBench(ctx context.Context, e *env, args []string) int {
	var a benchArgs
	fs := e.benchFlags(&a)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if len(a.urls) == 0 {
		if v := e.getenv("STOWAGE_STORE"); v != "" {
			a.urls = append(a.urls, v)
		}
	}
	if len(a.urls) == 0 {
		return e.usageErr("bench", "--store (or STOWAGE_STORE) is required")
	}
	if fs.NArg() > 0 {
		return e.usageErr("bench", "unexpected arguments %q", fs.Args())
	}
	var err error
	if a.cfg.AttachSize, err = parseSize(*a.attachSize); err != nil {
		return e.usageErr("bench", "--attach-size: %v", err)
	}
	if a.cfg.PartSize, err = parseSize(*a.partSize); err != nil {
		return e.usageErr("bench", "--part-size: %v", err)
	}
	if *a.only != "" {
		a.cfg.Only = strings.Split(*a.only, ",")
	}
	a.cfg.Getenv = e.getenv
	a.cfg.Logger = e.quietLogger()
	a.cfg.Progress = func(line string) { fmt.Fprintf(e.stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), line) }
	return e.benchRun(ctx, &a)
}

// benchRun measures every store of a and prints the results.
func (e *env) benchRun(ctx context.Context, a *benchArgs) int {
	var results []*bench.Result
	for _, u := range a.urls {
		c := a.cfg
		c.URL = u
		res, err := bench.Run(ctx, c)
		if err != nil {
			return e.fail("bench", err)
		}
		results = append(results, res)
		if !*a.asJSON && !*a.markdown {
			if err := bench.WriteText(e.stdout, res); err != nil {
				return e.fail("bench", err)
			}
		}
	}
	if *a.markdown {
		if err := bench.WriteMarkdown(e.stdout, results); err != nil {
			return e.fail("bench", err)
		}
	}
	data, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return e.fail("bench", err)
	}
	if *a.asJSON {
		fmt.Fprintln(e.stdout, string(data))
	}
	if *a.out != "" {
		if err := os.WriteFile(*a.out, append(data, '\n'), 0o644); err != nil {
			return e.fail("bench", err)
		}
	}
	return exitOK
}

// parseSize parses "1GiB", "64MiB", "512KiB" or a number of bytes ("" is 0).
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.m
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}
