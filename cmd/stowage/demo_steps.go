package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// doomed runs the writer process on sid, kills it with SIGKILL while its
// big attachment streams, then resumes the session from this process.
func (d *demo) doomed(ctx context.Context, sid string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, demoWriterCmd, "--store", d.url, "--session", sid)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var acked []soak.Ack
	killed := false
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		verb, rest, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "ack":
			var a soak.Ack
			if err := json.Unmarshal([]byte(rest), &a); err != nil {
				return fmt.Errorf("writer said %q: %w", sc.Text(), err)
			}
			acked = append(acked, a)
			d.say("%-4s %s: committed revision %d by writer process %d", sid, a.TurnID, a.Revision, cmd.Process.Pid)
		case "progress":
			n, _ := strconv.ParseInt(rest, 10, 64)
			if len(acked) == 1 && n >= killAfter && !killed {
				d.say("%-4s t2: %s of a 160 MiB attachment streamed: kill -9 %d (the writer dies mid-turn)", sid, humanBytes(n), cmd.Process.Pid)
				if err := cmd.Process.Kill(); err != nil {
					return err
				}
				killed = true
			}
		}
	}
	werr := cmd.Wait()
	switch {
	case !killed && werr != nil:
		return fmt.Errorf("writer process failed: %v: %s", werr, stderr.String())
	case !killed:
		return errors.New("the writer process finished before it could be killed")
	}
	a, err := d.handles(sid)
	if err != nil {
		return err
	}
	if err := a.Resume(ctx); err != nil {
		return err
	}
	d.say("%-4s a new process resumes the session at revision %d and commits turn t3", sid, a.Revision())
	ack, err := a.Commit(ctx, soak.TurnSpec{TurnID: "t3", Nodes: 2, NodeBytes: 300}, nil)
	if err != nil {
		return err
	}
	d.say("%-4s t3: committed revision %d", sid, ack.Revision)
	d.mu.Lock()
	d.acked[sid] = append(acked, a.Acked()...)
	d.notes[sid] = "writer killed mid-turn, resumed"
	d.mu.Unlock()
	return nil
}

// sessions returns the demo's session ids in order.
func (d *demo) sessions() []string {
	ids := make([]string, 0, len(d.acked))
	for sid := range d.acked {
		ids = append(ids, sid)
	}
	slices.Sort(ids)
	return ids
}

// readBack loads every session through fresh handles and checks it against
// what its writers were acknowledged.
func (d *demo) readBack(ctx context.Context, quiet bool) (map[string]soak.Loaded, error) {
	out := map[string]soak.Loaded{}
	for _, sid := range d.sessions() {
		a, err := d.handles(sid)
		if err != nil {
			return nil, err
		}
		got, err := soak.Verify(ctx, a.Session, a.Attach, d.acked[sid], false)
		if err != nil {
			return nil, err
		}
		out[sid] = got
		if !quiet {
			d.say("reader: %-4s revision %d, %d nodes, %d attachments (%s) read back, digests checked",
				sid, got.Revision, got.Nodes, got.Attachments, humanBytes(got.Bytes))
		}
	}
	return out, nil
}

// check is steps 3 and 4: read back, fsck, sweep, fsck, read back again,
// and the summary.
func (d *demo) check(ctx context.Context) error {
	d.say("step 3: a reader loads every session back")
	loaded, err := d.readBack(ctx, false)
	if err != nil {
		return err
	}
	// No writer runs now, so the demo sweeps with no grace period; in
	// production the grace period covers writers that stall (hours).
	opts := &fsck.Options{Grace: -1}
	d.say("step 4: fsck, then the sweeper (grace 0: no writer is running now)")
	before, err := fsck.Check(ctx, d.st, opts)
	if err != nil {
		return err
	}
	if !before.Clean() {
		return fmt.Errorf("fsck before the sweep: %d problems: %v", len(before.Problems), before.Problems)
	}
	for _, o := range before.Orphans {
		d.say("fsck: orphan %-16s %s", o.Kind, o.Key)
	}
	d.say("fsck: every invariant holds; %d orphans", len(before.Orphans))
	// No writer runs, so forgetting dead intents cannot race an adoption.
	sw := &gc.Sweeper{Store: d.st.Objects(), Manifest: d.st.Manifest(), Grace: 0, Holder: "stowage-demo", ForgetDeadIntents: true}
	rep, err := sw.Run(ctx)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	d.say("sweeper: scanned %d objects, reclaimed %d (%s, %s), failed %d", rep.Scanned, rep.Total(),
		kinds(rep.Reclaimed), humanBytes(rep.BytesReclaimed), rep.Failed)
	if rep.Total() != int64(len(before.Orphans)) {
		return fmt.Errorf("fsck found %d orphans but the sweeper reclaimed %d", len(before.Orphans), rep.Total())
	}
	after, err := fsck.Check(ctx, d.st, opts)
	if err != nil {
		return err
	}
	if !after.Clean() || len(after.Orphans) > 0 {
		return fmt.Errorf("fsck after the sweep: problems %v, orphans %v", after.Problems, after.Orphans)
	}
	d.say("fsck: clean, no orphans: the sweeper reclaimed exactly the orphans")
	if _, err := d.readBack(ctx, true); err != nil {
		return fmt.Errorf("after the sweep: %w", err)
	}
	d.say("reader: every acknowledged turn and attachment still reads back")
	d.summary(loaded, len(before.Orphans), rep, after)
	return nil
}

func kinds(m map[gc.Kind]int64) string {
	var parts []string
	for k, n := range m {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// summary prints the closing table.
func (d *demo) summary(loaded map[string]soak.Loaded, orphans int, rep gc.Report, after *fsck.Report) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintln(d.out)
	tw := tabwriter.NewWriter(d.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tTURNS ACKED\tREVISION\tNODES\tATTACHMENTS\tBYTES\tNOTE")
	var turns, nodes, atts int
	var bytes int64
	for _, sid := range d.sessions() {
		l := loaded[sid]
		turns += len(d.acked[sid])
		nodes += l.Nodes
		atts += l.Attachments
		bytes += l.Bytes
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", sid, len(d.acked[sid]), l.Revision, l.Nodes, l.Attachments, humanBytes(l.Bytes), dash(d.notes[sid]))
	}
	fmt.Fprintf(tw, "total\t%d\t\t%d\t%d\t%s\t\n", turns, nodes, atts, humanBytes(bytes))
	tw.Flush()
	c := after.Counts
	fmt.Fprintf(d.out, "\norphans found by fsck: %d; reclaimed by the sweeper: %d; fsck after: clean, %d orphans\n", orphans, rep.Total(), len(after.Orphans))
	fmt.Fprintf(d.out, "bucket: %d sessions, %d attachment rows, %d data objects (%s stored for %s of attachments: compression and deduplication)\n",
		c.Sessions, c.Rows, c.DataObjects, humanBytes(c.DataBytes), humanBytes(bytes))
	fmt.Fprintf(d.out, "elapsed: %.1fs\n\n", since(d.start))
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }

// cleanup deletes every object of the demo's namespace (and the folder of
// a file store).
func (d *demo) cleanup(ctx context.Context) error {
	objs := d.st.Objects()
	for u, err := range objs.ListUploads(ctx, "") {
		if err != nil {
			break
		}
		_ = objs.AbortUpload(ctx, u.Key, u.UploadID)
	}
	var keys []string
	for info, err := range objs.List(ctx, "", nil) {
		if err != nil {
			return err
		}
		keys = append(keys, info.Key)
	}
	if err := objs.DeleteMany(ctx, keys); err != nil {
		return err
	}
	if spec, err := openurl.ParseURL(d.url); err == nil && spec.Scheme == openurl.SchemeFile {
		return os.RemoveAll(spec.Path)
	}
	return nil
}
