package stowage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/session"
)

// node is an event node with a timestamp in the documented format.
func node(id, parent, text string) session.NodeRecord {
	return session.NodeRecord{
		NodeID: id, ParentNodeID: parent,
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339Nano),
		Kind:      session.PayloadEvent, Event: []byte(fmt.Sprintf(`{"text":%q}`, text)),
	}
}

// turn is a commit appending one node at expected revision rev. It names
// no session: a commit is for the session of the handle it is given to.
func turn(rev uint64, id, parent, text string) session.RuntimeCommit {
	return session.RuntimeCommit{
		ExpectedHeadRevision: &rev,
		Config:               session.SessionConfig{ProviderID: "anthropic", Model: "claude"},
		Graph:                session.GraphDelta{Kind: session.DeltaAppend, Nodes: []session.NodeRecord{node(id, parent, text)}, Leaf: id},
	}
}

// Open a store on a local directory (file://); s3:// and minio:// URLs
// name S3-compatible buckets the same way.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "stowage-example-")
	defer os.RemoveAll(dir)
	st, err := stowage.Open(context.Background(), "file://"+dir, stowage.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	sess, _ := st.Session("session-1")
	fmt.Println(sess.DurabilityTier())
	// Output: durable
}

// Commit a turn: one conditional PUT of the session head. The expected
// revision is the one the turn builds on (0 for a new session); the turn
// stamp makes a retry of the same turn return the same result.
func ExampleStore_Session_commitTurn() {
	ctx := context.Background()
	st, _ := stowage.Open(ctx, "mem://", stowage.Config{})
	defer st.Close()
	sess, _ := st.Session("session-1")
	c := turn(0, "user-1", "", "hello")
	c.TurnCommit = &session.TurnCommitStamp{TurnID: "turn-1", TurnCommitHash: "hash-of-turn-1"}
	res, err := sess.CommitRuntimeState(ctx, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := sess.CommitRuntimeState(ctx, c) // a retry after a lost response
	fmt.Println(res.HeadRevision, again.HeadRevision)
	// Output: 1 1
}

// Load a session: the full graph, or the active path of a leaf.
func ExampleStore_Session_load() {
	ctx := context.Background()
	st, _ := stowage.Open(ctx, "mem://", stowage.Config{})
	defer st.Close()
	sess, _ := st.Session("session-1")
	sess.CommitRuntimeState(ctx, turn(0, "a", "", "first"))
	sess.CommitRuntimeState(ctx, turn(1, "b", "a", "second"))
	read, err := sess.LoadSession(ctx, session.ActivePath("")) // the persisted leaf's path
	if err != nil || read == nil {
		fmt.Println("no session", err)
		return
	}
	for _, n := range read.Graph.Nodes {
		fmt.Print(n.NodeID, " ")
	}
	fmt.Println("| revision", read.HeadRevision, "| model", read.Config.Model)
	// Output: a b | revision 2 | model claude
}

// Handle a conflict: another writer committed first. The error says which
// revision the session is at; reload, rebuild the turn on it, commit again.
func Example_conflict() {
	ctx := context.Background()
	st, _ := stowage.Open(ctx, "mem://", stowage.Config{})
	defer st.Close()
	mine, _ := st.Session("session-1")
	theirs, _ := st.Session("session-1") // another process, say
	theirs.CommitRuntimeState(ctx, turn(0, "theirs", "", "first!"))

	_, err := mine.CommitRuntimeState(ctx, turn(0, "mine", "", "me too"))
	var conflict *session.HeadRevisionConflictError
	if errors.As(err, &conflict) {
		fmt.Println("conflict: session is at revision", conflict.Actual)
		res, err := mine.CommitRuntimeState(ctx, turn(conflict.Actual, "mine", "theirs", "me too"))
		fmt.Println("committed revision", res.HeadRevision, err)
	}
	// Output:
	// conflict: session is at revision 1
	// committed revision 2 <nil>
}

// Put an attachment and commit it with a turn: the bytes stream in
// first, the commit that names the attachment makes it committed.
func Example_attachment() {
	ctx := context.Background()
	st, _ := stowage.Open(ctx, "mem://", stowage.Config{})
	defer st.Close()
	att, _ := attach.New(st.Manifest(), "session-1", nil)
	ref, err := att.Put(ctx, strings.NewReader("a screenshot, say"), attach.PutOptions{MediaType: "image/png"})
	if err != nil {
		fmt.Println(err)
		return
	}
	sess, _ := st.Session("session-1")
	c := turn(0, "tool-1", "", "took a screenshot")
	c.CommittedAttachmentIDs = []string{ref.ID}
	res, err := sess.CommitRuntimeState(ctx, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _, _ := att.Get(ctx, ref.ID, nil)
	defer body.Close()
	data, _ := io.ReadAll(body)
	fmt.Println(len(res.UnbackedAttachmentIDs), "unbacked;", string(data))
	// Output: 0 unbacked; a screenshot, say
}

// Run a sweep: the sweeper reclaims what no session names any more, here
// an attachment whose session deleted it. (cmd/sweeper runs this on a
// schedule.)
func Example_sweep() {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	st, _ := stowage.Open(ctx, "mem://", stowage.Config{Now: clock})
	defer st.Close()
	att, _ := attach.New(st.Manifest(), "session-1", nil)
	keep, _ := att.Put(ctx, strings.NewReader("kept"), attach.PutOptions{})
	gone, _ := att.Put(ctx, strings.NewReader("deleted"), attach.PutOptions{})
	sess, _ := st.Session("session-1")
	c := turn(0, "a", "", "two attachments")
	c.CommittedAttachmentIDs = []string{keep.ID, gone.ID}
	sess.CommitRuntimeState(ctx, c)
	att.Delete(ctx, gone.ID) // the session drops one

	now = now.Add(48 * time.Hour) // past the grace period
	sw := gc.Sweeper{Store: st.Objects(), Manifest: st.Manifest(), Clock: clock, Grace: 24 * time.Hour, ForgetDeadIntents: true}
	rep, err := sw.Run(ctx)
	fmt.Println("reclaimed", rep.Reclaimed[gc.KindAttachmentData], "attachment(s)", err)
	_, _, err = att.Get(ctx, keep.ID, nil)
	fmt.Println("kept one readable:", err == nil)
	// Output:
	// reclaimed 1 attachment(s) <nil>
	// kept one readable: true
}
