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
	"github.com/stowage-dev/stowage/session"
)

const inspectUsage = `Usage: stowage inspect --store URL <what> [args]

  sessions                     list the sessions (revision, objects, nodes)
  head SESSION                 the session's head, decoded, as JSON
  log SESSION                  the revision log: revision, time, turn, nodes, attachments
  graph SESSION [--dot] [--active] [--leaf NODE]
                               the graph as an indented tree, or Graphviz DOT;
                               --active: only the active path (to --leaf or the persisted leaf)
  refs SESSION                 the session's attachment refs
  cat SESSION ID [--range OFF:LEN]
                               an attachment's bytes, to stdout
`

func runInspect(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("inspect", inspectUsage)
	store := e.storeFlag(fs)
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
	sub := map[string]func(context.Context, *stowage.Store, []string) error{
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
	st, err := e.open(ctx, *store, e.quietLogger())
	if err != nil {
		return e.fail("inspect", err)
	}
	defer st.Close()
	if err := sub(ctx, st, rest); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return e.usageErr("inspect "+what, "%s", ue.msg)
		}
		return e.fail("inspect "+what, err)
	}
	return exitOK
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// oneSession parses "SESSION [flags]" args with the flags of fs.
func oneSession(args []string, parse func([]string) error) (string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", usageError{"a session id is required"}
	}
	sid := args[0]
	if parse != nil {
		if err := parse(args[1:]); err != nil {
			return "", usageError{err.Error()}
		}
	} else if len(args) > 1 {
		return "", usageError{fmt.Sprintf("unexpected arguments %q", args[1:])}
	}
	return sid, session.ValidateSessionID(sid)
}

func (e *env) inspectSessions(ctx context.Context, st *stowage.Store, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", args)}
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tSTATE\tREVISION\tGEN\tOBJECTS")
	for sid, err := range session.ListSessionIDs(ctx, st.Objects()) {
		if err != nil {
			return err
		}
		info, err := session.ReadHead(ctx, st.Objects(), sid)
		switch {
		case err != nil:
			fmt.Fprintf(tw, "%s\tunreadable: %v\t\t\t\n", sid, err)
		case info == nil:
			fmt.Fprintf(tw, "%s\tno head\t\t\t\n", sid)
		case info.Deleted:
			fmt.Fprintf(tw, "%s\tdeleted\t%d\t%d\t%d\n", sid, info.Revision, info.Gen, len(info.Keys))
		default:
			fmt.Fprintf(tw, "%s\tlive\t%d\t%d\t%d\n", sid, info.Revision, info.Gen, len(info.Keys))
		}
	}
	return tw.Flush()
}

func (e *env) inspectHead(ctx context.Context, st *stowage.Store, args []string) error {
	sid, err := oneSession(args, nil)
	if err != nil {
		return err
	}
	_, payload, err := readObject(ctx, st.Objects(), session.HeadKey(sid))
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, payload, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(e.stdout)
	return err
}

func (e *env) inspectLog(ctx context.Context, st *stowage.Store, args []string) error {
	sid, err := oneSession(args, nil)
	if err != nil {
		return err
	}
	recs, err := revisionLog(ctx, st.Objects(), sid)
	if err != nil {
		return err
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

func (e *env) inspectRefs(ctx context.Context, st *stowage.Store, args []string) error {
	sid, err := oneSession(args, nil)
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
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSIZE\tMEDIA TYPE\tLABEL\tCOMMITTED")
	for _, r := range refs {
		committed := "uncommitted"
		if !r.CommittedAt.IsZero() {
			committed = r.CommittedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.ID, r.Size, dash(r.MediaType), dash(r.Label), committed)
	}
	return tw.Flush()
}

func (e *env) inspectCat(ctx context.Context, st *stowage.Store, args []string) error {
	if len(args) < 2 {
		return usageError{"cat needs a session id and an attachment id"}
	}
	sid, id := args[0], args[1]
	fs := e.newFlags("inspect cat", inspectUsage)
	rangeFlag := fs.String("range", "", "only `OFF:LEN` bytes (LEN may be empty: to the end)")
	if err := fs.Parse(args[2:]); err != nil || fs.NArg() > 0 {
		return usageError{"bad flags for cat"}
	}
	var rng *attach.Range
	if *rangeFlag != "" {
		off, n, ok := strings.Cut(*rangeFlag, ":")
		o, err1 := strconv.ParseInt(off, 10, 64)
		l, err2 := int64(-1), error(nil)
		if n != "" {
			l, err2 = strconv.ParseInt(n, 10, 64)
		}
		if !ok || err1 != nil || err2 != nil {
			return usageError{fmt.Sprintf("--range %q: want OFF:LEN", *rangeFlag)}
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
	return "", fmt.Errorf("%d attachments of session %s start with %s", len(match), a.SessionID(), id)
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
