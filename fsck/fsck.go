package fsck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/errwrap"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// Invariants, the values of Problem.Invariant.
const (
	InvHead     = "head"
	InvNamed    = "named"
	InvRef      = "ref"
	InvManifest = "manifest"
	// InvUnbacked (a warning, not a problem): a commit named attachments
	// its session holds no bytes for; they were not stamped and root
	// nothing.
	InvUnbacked = "unbacked"
	// InvUnreadable: an object of stowage's layout exists but cannot be
	// read. It is reported and skipped; the check goes on.
	InvUnreadable = "unreadable"
	// InvMarker: the store marker (stowage.json) is damaged. The store
	// does not open, so stowage fsck reports this one problem alone.
	InvMarker = "marker"
)

// Options configure Check. A nil *Options is the zero value.
type Options struct {
	// Grace: orphans younger than this are in flight, older ones stale. It
	// also decides, as for the sweeper, which uncommitted intents are aged.
	// Zero means gc.DefaultGrace; negative means zero.
	Grace time.Duration
	// Now is the clock orphans are aged by; nil means time.Now.
	Now func() time.Time
	// Deep reads every committed attachment in full and checks its digest.
	Deep bool
	// StaleOrphansAreProblems makes every stale orphan a Problem too.
	StaleOrphansAreProblems bool
	// Processes judges process-owned intents, as the manifest does; nil
	// means process owners are never dead.
	Processes manifest.ProcessRegistry
	// Concurrency bounds the reads in flight; 0 means 16.
	Concurrency int
	// Logger receives progress at debug level; nil discards.
	Logger *slog.Logger
}

// Problem is a violated invariant.
type Problem struct {
	Invariant string `json:"invariant"`
	Key       string `json:"key"`
	Detail    string `json:"detail"`
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Invariant, p.Key, p.Detail) }

// Orphan is an object nothing needs any more. Kinds are the sweeper's.
type Orphan struct {
	Kind gc.Kind `json:"kind"`
	Key  string  `json:"key"`
	// UploadID is set for incomplete multipart uploads.
	UploadID string    `json:"upload_id,omitempty"`
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mod_time"`
	// Stale: older than the grace period.
	Stale bool `json:"stale"`
}

// Counts summarises what Check saw.
type Counts struct {
	Sessions       int `json:"sessions"`
	DeletedHeads   int `json:"deleted_heads"`
	HeadlessPrefix int `json:"headless_sessions"`
	SessionObjects int `json:"session_objects"`
	Nodes          int `json:"nodes"`
	Rows           int `json:"rows"`
	CommittedRows  int `json:"committed_rows"`
	// UnstampedCommittedRows are rows a published commit named whose
	// commit stamp a crash skipped (the sweeper repairs the stamp).
	UnstampedCommittedRows int `json:"unstamped_committed_rows"`
	// DeletedCommittedRefs are attachments a head's recent commits named
	// whose row the session later forgot (attach.Delete).
	DeletedCommittedRefs int   `json:"deleted_committed_refs"`
	UploadIntents        int   `json:"upload_intents"`
	DataObjects          int   `json:"data_objects"`
	DataBytes            int64 `json:"data_bytes"`
	Multipart            int   `json:"multipart_uploads"`
}

// Report is the outcome of Check.
type Report struct {
	Checked  time.Time `json:"checked"`
	Grace    string    `json:"grace"`
	Counts   Counts    `json:"counts"`
	Problems []Problem `json:"problems"`
	// Warnings are worth an operator's look but violate no invariant
	// (Clean ignores them).
	Warnings []Problem `json:"warnings"`
	Orphans  []Orphan  `json:"orphans"`
	// Unreadable lists the objects of stowage's layout that exist but
	// cannot be read (each is a Problem too); while a manifest row cannot
	// be read, no attachment data is reported as an orphan.
	Unreadable []string `json:"unreadable"`
	// Unknown lists the keys under sessions/<sid>/ and attach/data/ that
	// are not of stowage's exact key shape: never stowage's, never deleted.
	Unknown []string `json:"unknown_keys"`
	// NeedsAttention: something is unreadable or outside the layout, and
	// a person should look, even if no invariant is violated.
	NeedsAttention bool `json:"needs_attention"`
}

// Clean reports whether no invariant is violated.
func (r *Report) Clean() bool { return len(r.Problems) == 0 }

// OrphanCounts counts the orphans by kind; stale only counts stale ones.
func (r *Report) OrphanCounts(staleOnly bool) map[gc.Kind]int {
	out := map[gc.Kind]int{}
	for _, o := range r.Orphans {
		if o.Stale || !staleOnly {
			out[o.Kind]++
		}
	}
	return out
}

// StaleOrphans returns the number of orphans older than the grace period.
func (r *Report) StaleOrphans() int {
	n := 0
	for _, o := range r.Orphans {
		if o.Stale {
			n++
		}
	}
	return n
}

// checker is the state of one Check.
type checker struct {
	st     *stowage.Store
	objs   objstore.Store
	m      *manifest.Store
	opts   Options
	now    time.Time
	cutoff time.Time
	log    *slog.Logger
	// judge is the manifest's rule for dead intents, with the turn
	// receipts of the sessions' heads and opts.Processes.
	judge manifest.Judge

	mu           sync.Mutex
	rep          Report
	rootsUnknown bool // a row could not be read: data is never an orphan
	// intended are the data keys live upload intents name (set by
	// checkAttachments): a multipart upload under one is in flight.
	intended map[string]bool
}

// Check verifies every invariant of st's bucket and reports its orphans. It
// writes nothing. The error is for a failure to check (the store could not
// be listed or read), never for a violated invariant: those are in the
// Report.
//
// Check is meant for a quiescent bucket or a live one: a writer running
// during the check may leave young orphans and, rarely, make an object
// vanish between a listing and a read, which Check reports as a problem
// only if it is still so when re-read.
func Check(ctx context.Context, st *stowage.Store, opts *Options) (*Report, error) {
	c := &checker{st: st, objs: st.Objects(), m: st.Manifest()}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	if c.opts.Grace == 0 {
		c.opts.Grace = gc.DefaultGrace
	}
	if c.opts.Concurrency <= 0 {
		c.opts.Concurrency = 16
	}
	c.log = c.opts.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.now = c.opts.Now()
	c.cutoff = manifest.Cutoff(c.now, c.opts.Grace)
	c.judge = manifest.Judge{Turns: session.TurnReceipts{Store: c.objs}, Processes: c.opts.Processes}
	c.rep = Report{Checked: c.now, Grace: max(c.opts.Grace, 0).String(), Problems: []Problem{}, Warnings: []Problem{}, Orphans: []Orphan{},
		Unreadable: []string{}, Unknown: []string{}}

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"sessions", c.checkSessions},
		{"attachments", c.checkAttachments},
		{"multipart", c.checkMultipart},
		{"sweeper", c.checkSweeperState},
	}
	for _, s := range steps {
		c.log.DebugContext(ctx, "fsck: checking", "step", s.name)
		if err := s.fn(ctx); err != nil {
			return nil, errorf("%s: %w", s.name, err)
		}
	}
	if c.opts.StaleOrphansAreProblems {
		for _, o := range c.rep.Orphans {
			if o.Stale {
				c.rep.Problems = append(c.rep.Problems, Problem{Invariant: "orphan", Key: o.Key,
					Detail: fmt.Sprintf("%s orphan older than the grace period (%s)", o.Kind, c.rep.Grace)})
			}
		}
	}
	if c.rootsUnknown {
		c.rep.Orphans = slices.DeleteFunc(c.rep.Orphans, func(o Orphan) bool { return o.Kind == gc.KindAttachmentData })
	}
	c.rep.NeedsAttention = len(c.rep.Unreadable) > 0 || len(c.rep.Unknown) > 0
	sort.Strings(c.rep.Unreadable)
	sort.Strings(c.rep.Unknown)
	sort.Slice(c.rep.Problems, func(i, j int) bool { return c.rep.Problems[i].Key < c.rep.Problems[j].Key })
	sort.Slice(c.rep.Warnings, func(i, j int) bool { return c.rep.Warnings[i].String() < c.rep.Warnings[j].String() })
	sort.Slice(c.rep.Orphans, func(i, j int) bool { return c.rep.Orphans[i].Key < c.rep.Orphans[j].Key })
	return &c.rep, nil
}

func (c *checker) problem(inv, key, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rep.Problems = append(c.rep.Problems, Problem{Invariant: inv, Key: key, Detail: fmt.Sprintf(format, args...)})
}

func (c *checker) warning(inv, key, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rep.Warnings = append(c.rep.Warnings, Problem{Invariant: inv, Key: key, Detail: fmt.Sprintf(format, args...)})
}

// unknown reports a key outside stowage's layout.
func (c *checker) unknown(key string) {
	c.mu.Lock()
	c.rep.Unknown = append(c.rep.Unknown, key)
	c.mu.Unlock()
}

func (c *checker) orphan(kind gc.Kind, info objstore.ObjectInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rep.Orphans = append(c.rep.Orphans, Orphan{Kind: kind, Key: info.Key, Size: info.Size, ModTime: info.ModTime,
		Stale: !info.ModTime.After(c.cutoff)})
}

func (c *checker) count(fn func(*Counts)) {
	c.mu.Lock()
	fn(&c.rep.Counts)
	c.mu.Unlock()
}

// exists reports whether key exists (with its info); other errors fail the
// check.
func (c *checker) exists(ctx context.Context, key string) (objstore.ObjectInfo, bool, error) {
	info, err := c.objs.Head(ctx, key)
	switch {
	case errors.Is(err, objstore.ErrNotExist):
		return info, false, nil
	case err != nil:
		return info, false, err
	}
	return info, true, nil
}

// errorf is fmt.Errorf for package fsck: the message starts with "fsck: "
// once, however many of the package's own errors it wraps.
func errorf(format string, args ...any) error { return errwrap.Errorf("fsck", format, args...) }
