package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

const demoUsage = `Usage: stowage demo [--store URL] [--cleanup]

The whole story, with progress output:
  1. three agent sessions commit turns with attachments from a few bytes to
     hundreds of MB (generated and streamed; some text is compressed, some
     content shared between sessions is stored once);
  2. a fourth writer, a separate process, is killed with SIGKILL in the middle
     of a turn, while its 160 MiB attachment is streaming; a new process
     resumes the session and commits the next turn;
  3. a reader loads every session back and checks every acknowledged turn and
     attachment (digests included);
  4. fsck reports the orphans the killed writer left; the sweeper reclaims
     exactly those; fsck comes back clean; a summary table closes.

Without --store (and STOWAGE_STORE) it runs on a file store in a fresh folder
under the system's temporary directory, and keeps it for you to inspect. With
--store it works under a fresh prefix (s3) or subfolder (file) of that store.
`

// demoAgents are the well-behaved agents' scripts.
var demoAgents = []struct {
	name  string
	turns []soak.TurnSpec
}{
	{"ada", []soak.TurnSpec{
		{TurnID: "t1", Nodes: 3, NodeBytes: 300, Attachments: []soak.AttachmentSpec{{Size: 12, MediaType: "text/plain", Seed: 1}}},
		{TurnID: "t2", Nodes: 2, NodeBytes: 800, Attachments: []soak.AttachmentSpec{{Size: 48 << 10, MediaType: "application/json", Seed: 2}}},
		{TurnID: "t3", Nodes: 4, NodeBytes: 500},
	}},
	{"bob", []soak.TurnSpec{
		{TurnID: "t1", Nodes: 2, NodeBytes: 600, Attachments: []soak.AttachmentSpec{{Size: 5 << 20, MediaType: "image/png", Seed: 3}}},
		{TurnID: "t2", Nodes: 3, NodeBytes: 400, Attachments: []soak.AttachmentSpec{{Size: 256 << 20, MediaType: "application/x-tar", Seed: 4}}},
	}},
	{"cy", []soak.TurnSpec{
		{TurnID: "t1", Nodes: 1, NodeBytes: 200, Attachments: []soak.AttachmentSpec{{Size: 1 << 10, MediaType: "text/csv", Seed: 5}}},
		{TurnID: "t2", Nodes: 2, NodeBytes: 900, Attachments: []soak.AttachmentSpec{{Size: 48 << 10, MediaType: "application/json", Seed: 2}}}, // ada's bytes: stored once
		{TurnID: "t3", Nodes: 3, NodeBytes: 300, Attachments: []soak.AttachmentSpec{{Size: 20 << 20, MediaType: "video/mp4", Seed: 6}}},
	}},
}

// killAfter is how much of the doomed writer's big attachment streams
// before the writer is killed.
const killAfter = 48 << 20

// demo is the state of one demo run.
type demo struct {
	e     *env
	url   string
	st    *stowage.Store
	start time.Time
	mu    sync.Mutex
	out   io.Writer
	// per session: what its writers were acknowledged
	acked map[string][]soak.Ack
	notes map[string]string
}

func (d *demo) say(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, "[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func runDemo(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("demo", demoUsage)
	store := e.storeFlag(fs)
	cleanup := fs.Bool("cleanup", false, "delete the demo's objects at the end")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return e.usageErr("demo", "unexpected arguments %q", fs.Args())
	}
	url, where, err := demoURL(*store)
	if err != nil {
		return e.usageErr("demo", "%v", err)
	}
	d := &demo{e: e, url: url, start: time.Now(), out: e.stdout, acked: map[string][]soak.Ack{}, notes: map[string]string{}}
	d.say("store: %s", where)
	st, err := e.open(ctx, url, e.quietLogger(), false)
	if err != nil {
		return e.fail("demo", err)
	}
	defer st.Close()
	d.st = st
	if err := d.run(ctx); err != nil {
		return e.fail("demo", err)
	}
	if *cleanup {
		if err := d.cleanup(ctx); err != nil {
			return e.fail("demo", err)
		}
		d.say("cleaned up %s", where)
	} else {
		d.say("kept the store; look around with\n          stowage inspect --store '%s' sessions", url)
	}
	return exitOK
}

// demoURL returns the URL the demo works in: a fresh folder under the
// temporary directory, or a fresh namespace of the given store.
func demoURL(store string) (url, where string, err error) {
	id := strings.ToLower(ulid.Make().String())
	if store == "" {
		dir, err := os.MkdirTemp("", "stowage-demo-")
		if err != nil {
			return "", "", err
		}
		return "file://" + dir, fmt.Sprintf("a file store in %s (fresh)", dir), nil
	}
	spec, err := openurl.ParseURL(store)
	if err != nil {
		return "", "", err
	}
	switch spec.Scheme {
	case openurl.SchemeFile:
		spec.Path = filepath.Join(spec.Path, "stowage-demo-"+id)
	case openurl.SchemeMem:
		return "", "", fmt.Errorf("the demo's writer process cannot share a mem:// store; use file:// or s3://")
	default:
		spec.Prefix += "stowage-demo-" + id + "/"
	}
	return spec.String(), fmt.Sprintf("%s (a fresh namespace)", spec), nil
}

func (d *demo) run(ctx context.Context) error {
	d.say("step 1: %d agents commit turns with attachments; a writer process starts on session dee", len(demoAgents))
	var wg sync.WaitGroup
	errs := make([]error, len(demoAgents)+1)
	for i, ag := range demoAgents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.agent(ctx, ag.name, ag.turns)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs[len(demoAgents)] = d.doomed(ctx, "dee")
	}()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return d.check(ctx)
}

// handles returns a session's commit and attachment stores.
func (d *demo) handles(sid string) (*soak.Agent, error) {
	sess, err := d.st.Session(sid)
	if err != nil {
		return nil, err
	}
	att, err := attach.New(d.st.Manifest(), sid, nil)
	if err != nil {
		return nil, err
	}
	return soak.NewAgent(sess, att), nil
}

// agent runs a well-behaved agent's script.
func (d *demo) agent(ctx context.Context, sid string, turns []soak.TurnSpec) error {
	a, err := d.handles(sid)
	if err != nil {
		return err
	}
	for _, spec := range turns {
		var refs []attach.Ref
		for _, as := range spec.Attachments {
			start := time.Now()
			ref, err := a.PutAttachment(ctx, spec.TurnID, as, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", sid, err)
			}
			took := time.Since(start).Seconds()
			rate := ""
			if as.Size >= 1<<20 {
				rate = fmt.Sprintf(" (%.0f MB/s)", float64(as.Size)/1e6/max(took, 1e-6))
			}
			d.say("%-4s %s: put %s %s in %.2fs%s, id %s", sid, spec.TurnID, humanBytes(as.Size), as.MediaType, took, rate, short(ref.ID))
			refs = append(refs, ref)
		}
		ack, err := a.Commit(ctx, spec, refs)
		if err != nil {
			return fmt.Errorf("%s: %w", sid, err)
		}
		d.say("%-4s %s: committed revision %d (%d nodes, %d attachments)", sid, spec.TurnID, ack.Revision, len(ack.NodeIDs), len(refs))
	}
	d.mu.Lock()
	d.acked[sid] = a.Acked()
	d.mu.Unlock()
	return nil
}
