package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/soak"
)

// demoWriterCmd is the hidden subcommand of the demo's doomed writer: a
// separate process the demo kills with SIGKILL in the middle of a turn.
const demoWriterCmd = "demo-writer"

// The doomed writer's script: one turn committed, then a turn whose big
// attachment is still streaming when the process is killed.
var doomedTurns = []soak.TurnSpec{
	{TurnID: "t1", Nodes: 2, NodeBytes: 400, Attachments: []soak.AttachmentSpec{{Size: 2 << 10, MediaType: "text/markdown", Seed: 41}}},
	{TurnID: "t2", Nodes: 2, NodeBytes: 600, Attachments: []soak.AttachmentSpec{{Size: 160 << 20, MediaType: "application/x-tar", Seed: 42}}},
}

// runDemoWriter commits doomedTurns to --session, printing "ack <json>"
// after each acknowledged turn and "progress <bytes>" while attachments
// stream. It runs until killed (or until its script ends).
func runDemoWriter(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags(demoWriterCmd, "Usage: stowage demo-writer --store URL --session ID (used by stowage demo)\n")
	store := e.storeFlag(fs)
	sid := fs.String("session", "", "session `id`")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	st, err := e.open(ctx, *store, e.quietLogger(), false)
	if err != nil {
		return e.fail(demoWriterCmd, err)
	}
	defer st.Close()
	sess, err := st.Session(*sid)
	if err != nil {
		return e.fail(demoWriterCmd, err)
	}
	att, err := attach.New(st.Manifest(), *sid, nil)
	if err != nil {
		return e.fail(demoWriterCmd, err)
	}
	a := soak.NewAgent(sess, att)
	out := &lineWriter{w: e.stdout}
	for _, spec := range doomedTurns {
		var refs []attach.Ref
		for _, as := range spec.Attachments {
			ref, err := a.PutAttachment(ctx, spec.TurnID, as, &progressWriter{out: out, every: 8 << 20})
			if err != nil {
				return e.fail(demoWriterCmd, err)
			}
			refs = append(refs, ref)
		}
		ack, err := a.Commit(ctx, spec, refs)
		if err != nil {
			return e.fail(demoWriterCmd, err)
		}
		js, _ := json.Marshal(ack)
		out.printf("ack %s\n", js)
	}
	return exitOK
}

// lineWriter serialises whole lines to w.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

// progressWriter counts the bytes written to it and reports every `every`.
type progressWriter struct {
	out   *lineWriter
	every int64
	n     int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	before := p.n / p.every
	p.n += int64(len(b))
	if p.n/p.every != before {
		p.out.printf("progress %d\n", p.n)
	}
	return len(b), nil
}
