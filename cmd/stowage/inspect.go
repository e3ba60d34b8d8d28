package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

const inspectUsage = `Usage: stowage inspect --store URL <what> [args] [--json]

  sessions                     list the sessions: state (live, deleted, no head,
                               unreadable), revision, gen, objects named
  head SESSION                 the session's head, decoded, as JSON
  log SESSION                  the revision log: revision, time, turn, nodes, attachments
  graph SESSION [--dot] [--active] [--leaf NODE]
                               the graph as an indented tree, or Graphviz DOT;
                               --active: only the active path (to --leaf or the persisted leaf)
  refs SESSION                 the session's attachment refs
  cat SESSION ID [--range OFF:LEN]
                               an attachment's bytes, to stdout

--json prints sessions, log, graph and refs as JSON. Read-only: the store
is opened read-only; nothing is written or created.
`

// inspectFlags are the flags of every inspect subject (flags may come
// anywhere on the command line, so one flag set holds them all).
type inspectFlags struct {
	json, dot, active bool
	leaf, rng         string
}

func runInspect(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("inspect", inspectUsage)
	store := e.storeFlag(fs)
	var f inspectFlags
	fs.BoolVar(&f.json, "json", false, "print as JSON (sessions, head, log, graph, refs)")
	fs.BoolVar(&f.dot, "dot", false, "graph: print Graphviz DOT")
	fs.BoolVar(&f.active, "active", false, "graph: only the active path")
	fs.StringVar(&f.leaf, "leaf", "", "graph: the active path's leaf (default: the persisted leaf)")
	fs.StringVar(&f.rng, "range", "", "cat: only `OFF:LEN` bytes (LEN may be empty: to the end)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if *store == "" {
		return e.usageErr("inspect", "--store (or STOWAGE_STORE) is required")
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return exitUsage
	}
	what, rest := rest[0], rest[1:]
	sub := map[string]func(context.Context, *stowage.Store, []string, *inspectFlags) error{
		"sessions": e.inspectSessions,
		"head":     e.inspectHead,
		"log":      e.inspectLog,
		"graph":    e.inspectGraph,
		"refs":     e.inspectRefs,
		"cat":      e.inspectCat,
	}[what]
	if sub == nil {
		return e.usageErr("inspect", "unknown subject %q (want sessions, head, log, graph, refs or cat)", what)
	}
	st, err := e.open(ctx, *store, e.quietLogger(), true)
	if err != nil {
		return e.fail("inspect", err)
	}
	defer st.Close()
	if err := sub(ctx, st, rest, &f); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return e.usageErr("inspect "+what, "%s", ue.msg)
		}
		return e.fail("inspect "+what, err)
	}
	return exitOK
}

// writeJSON prints v indented.
func (e *env) writeJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// oneSession takes the "SESSION" argument.
func oneSession(args []string) (string, error) {
	if len(args) == 0 {
		return "", usageError{"a session id is required"}
	}
	if len(args) > 1 {
		return "", usageError{fmt.Sprintf("unexpected arguments %q", args[1:])}
	}
	return args[0], session.ValidateSessionID(args[0])
}

// refRow is one attachment ref in inspect refs --json.
type refRow struct {
	ID          string            `json:"id"`
	Size        int64             `json:"size"`
	MediaType   string            `json:"media_type,omitempty"`
	Label       string            `json:"label,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	CommittedAt *time.Time        `json:"committed_at,omitempty"` // absent: uncommitted
}

// refRowOf is r as inspect refs --json and attach seal print it.
func refRowOf(r attach.Ref) refRow {
	row := refRow{r.ID, r.Size, r.MediaType, r.Label, r.Metadata, nil}
	if !r.CommittedAt.IsZero() {
		row.CommittedAt = &r.CommittedAt
	}
	return row
}

// sessionRow is one line of inspect sessions.
type sessionRow struct {
	Session  string `json:"session"`
	State    string `json:"state"` // live, deleted, no head, unreadable
	Revision uint64 `json:"revision"`
	Gen      uint64 `json:"gen"`
	Objects  int    `json:"objects"`
	Error    string `json:"error,omitempty"`
}

func (e *env) inspectSessions(ctx context.Context, st *stowage.Store, args []string, f *inspectFlags) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", args)}
	}
	rows := []sessionRow{}
	for sid, err := range session.ListSessionIDs(ctx, st.Objects()) {
		if err != nil {
			return err
		}
		info, err := session.ReadHead(ctx, st.Objects(), sid)
		row := sessionRow{Session: sid}
		switch {
		case err != nil && ctx.Err() != nil:
			// Interrupted, not unreadable: the run stops (130/143).
			return fmt.Errorf("session %s: %w", sid, context.Cause(ctx))
		case err != nil:
			row.State, row.Error = "unreadable", err.Error()
		case info == nil:
			row.State = "no head"
		default:
			row.State, row.Revision, row.Gen, row.Objects = "live", info.Revision, info.Gen, len(info.Keys)
			if info.Deleted {
				row.State = "deleted"
			}
		}
		rows = append(rows, row)
	}
	if f.json {
		return e.writeJSON(rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tSTATE\tREVISION\tGEN\tOBJECTS")
	for _, r := range rows {
		switch r.State {
		case "unreadable":
			fmt.Fprintf(tw, "%s\tunreadable: %s\t\t\t\n", r.Session, r.Error)
		case "no head":
			fmt.Fprintf(tw, "%s\tno head\t\t\t\n", r.Session)
		default:
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", r.Session, r.State, r.Revision, r.Gen, r.Objects)
		}
	}
	return tw.Flush()
}

func (e *env) inspectHead(ctx context.Context, st *stowage.Store, args []string, _ *inspectFlags) error {
	sid, err := oneSession(args)
	if err != nil {
		return err
	}
	_, payload, err := readObject(ctx, st.Objects(), session.HeadKey(sid))
	if err != nil {
		return noSession(sid, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, payload, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(e.stdout)
	return err
}

func (e *env) inspectLog(ctx context.Context, st *stowage.Store, args []string, f *inspectFlags) error {
	sid, err := oneSession(args)
	if err != nil {
		return err
	}
	recs, err := revisionLog(ctx, st.Objects(), sid)
	if err != nil {
		return noSession(sid, err)
	}
	if f.json {
		if recs == nil {
			recs = []commitRecord{}
		}
		return e.writeJSON(recs)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REV\tTIME\tTURN\tNODES\tATTACHMENTS\tCOMMIT")
	for _, r := range recs {
		nodes := "-" // commit records in segments do not count nodes
		if r.Nodes != nil {
			nodes = strconv.Itoa(len(r.Nodes))
		}
		if r.Reset {
			nodes += " (replace)"
		}
		atts := make([]string, len(r.AttachmentIDs))
		for i, id := range r.AttachmentIDs {
			atts[i] = short(id)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Rev, r.At.Format(time.RFC3339), dash(r.TurnID), nodes,
			dash(strings.Join(atts, ",")), r.CommitID)
	}
	return tw.Flush()
}

func (e *env) inspectRefs(ctx context.Context, st *stowage.Store, args []string, f *inspectFlags) error {
	sid, err := oneSession(args)
	if err != nil {
		return err
	}
	a, err := attach.New(st.Manifest(), sid, nil)
	if err != nil {
		return err
	}
	refs, err := a.List(ctx)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		// No ref: the session must at least have a head.
		if _, err := st.Objects().Head(ctx, session.HeadKey(sid)); err != nil {
			return noSession(sid, err)
		}
	}
	if f.json {
		rows := make([]refRow, len(refs))
		for i, r := range refs {
			rows[i] = refRowOf(r)
		}
		return e.writeJSON(rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSIZE\tMEDIA TYPE\tLABEL\tCOMMITTED")
	for _, r := range refs {
		committed := "uncommitted"
		if !r.CommittedAt.IsZero() {
			committed = r.CommittedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, humanBytes(r.Size), dash(r.MediaType), dash(r.Label), committed)
	}
	return tw.Flush()
}

func (e *env) inspectCat(ctx context.Context, st *stowage.Store, args []string, f *inspectFlags) error {
	if len(args) != 2 {
		return usageError{"cat needs a session id and an attachment id"}
	}
	sid, id := args[0], args[1]
	var rng *attach.Range
	if f.rng != "" {
		off, n, ok := strings.Cut(f.rng, ":")
		o, err1 := strconv.ParseInt(off, 10, 64)
		l, err2 := int64(-1), error(nil)
		if n != "" {
			l, err2 = strconv.ParseInt(n, 10, 64)
		}
		if !ok || err1 != nil || err2 != nil {
			return usageError{fmt.Sprintf("--range %q: want OFF:LEN", f.rng)}
		}
		rng = &attach.Range{Offset: o, Length: l}
	}
	a, err := attach.New(st.Manifest(), sid, nil)
	if err != nil {
		return err
	}
	if id, err = resolveID(ctx, a, id); err != nil {
		return err
	}
	body, _, err := a.Get(ctx, id, rng)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(e.stdout, body)
	return err
}

// noSession turns the head's absence into errNoSession, without the
// backend's not-found message (which may name a file path); other errors
// are returned as they are.
func noSession(sid string, err error) error {
	if errors.Is(err, objstore.ErrNotExist) {
		return fmt.Errorf("session %s: %w", sid, errNoSession)
	}
	return err
}

// resolveID expands a unique prefix of an attachment id the session holds
// (as inspect log and refs print them) to the whole id.
func resolveID(ctx context.Context, a *attach.Store, id string) (string, error) {
	if len(id) == 64 {
		return id, nil
	}
	refs, err := a.List(ctx)
	if err != nil {
		return "", err
	}
	var match []string
	for _, r := range refs {
		if strings.HasPrefix(r.ID, id) {
			match = append(match, r.ID)
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("session %s holds no attachment %s...: %w", a.SessionID(), id, attach.ErrNotFound)
	case 1:
		return match[0], nil
	}
	return "", usageError{fmt.Sprintf("%d attachments of session %s start with %s", len(match), a.SessionID(), id)}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
