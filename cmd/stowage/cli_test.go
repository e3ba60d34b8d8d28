package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/internal/exitcode"
	"github.com/stowage-dev/stowage/manifest"
)

// TestFlagsBeforeOrAfterTheCommand: flags are accepted before the command,
// between it and its arguments, and after them (refused on main).
func TestFlagsBeforeOrAfterTheCommand(t *testing.T) {
	storeURL, _ := inspectFixture(t)
	for _, args := range [][]string{
		{"--store", storeURL, "inspect", "sessions", "--json"},
		{"inspect", "--store", storeURL, "sessions", "--json"},
		{"inspect", "sessions", "--json", "--store", storeURL},
		{"--json", "inspect", "sessions", "--store=" + storeURL},
	} {
		code, out, stderr := stowageCmd(t, nil, args...)
		var rows []sessionRow
		if code != exitOK || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Session != "s1" {
			t.Errorf("stowage %q: exit %d\n%s%s", args, code, out, stderr)
		}
	}
	for _, args := range [][]string{
		{"--store", storeURL, "fsck", "--deep"},
		{"fsck", "--deep", "--store", storeURL},
	} {
		if code, _, stderr := stowageCmd(t, nil, args...); code != exitOK {
			t.Errorf("stowage %q: exit %d: %s", args, code, stderr)
		}
	}
}

// TestVersionCommand: stowage version prints the module, version, commit
// and Go version from the build information.
func TestVersionCommand(t *testing.T) {
	code, out, stderr := stowageCmd(t, nil, "version")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"stowage github.com/stowage-dev/stowage ", "commit ", runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Fatalf("version %q lacks %q", out, want)
		}
	}
}

// TestInspectJSON: inspect sessions, log, graph and refs print JSON with
// --json (inspect had no --json on main).
func TestInspectJSON(t *testing.T) {
	storeURL, id := inspectFixture(t)
	env := map[string]string{"STOWAGE_STORE": storeURL}
	var sessions []sessionRow
	var log []commitRecord
	var refs []refRow
	var graph struct {
		Nodes []struct {
			NodeID string `json:"node_id"`
		} `json:"nodes"`
	}
	for _, c := range []struct {
		args []string
		into any
	}{
		{[]string{"sessions"}, &sessions},
		{[]string{"log", "s1"}, &log},
		{[]string{"refs", "s1"}, &refs},
		{[]string{"graph", "s1"}, &graph},
	} {
		code, out, stderr := stowageCmd(t, env, append(append([]string{"inspect"}, c.args...), "--json")...)
		if code != exitOK {
			t.Fatalf("inspect %q --json: exit %d: %s", c.args, code, stderr)
		}
		if err := json.Unmarshal([]byte(out), c.into); err != nil {
			t.Fatalf("inspect %q --json: %v\n%s", c.args, err, out)
		}
	}
	if len(sessions) != 1 || sessions[0].State != "live" || sessions[0].Revision != 2 {
		t.Errorf("sessions: %+v", sessions)
	}
	if len(log) != 2 || log[0].Rev != 1 || log[0].TurnID != "t0" {
		t.Errorf("log: %+v", log)
	}
	if len(refs) != 1 || refs[0].ID != id || refs[0].Size != 100 || refs[0].CommittedAt == nil {
		t.Errorf("refs: %+v", refs)
	}
	if len(graph.Nodes) != 4 {
		t.Errorf("graph: %+v", graph)
	}
	if _, out, _ := stowageCmd(t, env, "inspect", "refs", "s1"); !strings.Contains(out, "100 B") {
		t.Errorf("refs sizes are not human: %s", out)
	}
}

// TestFsckGraceZero: --grace 0s makes every orphan stale at once (on main
// it silently meant 24h, so a fresh orphan passed --strict).
func TestFsckGraceZero(t *testing.T) {
	storeURL, _ := inspectFixture(t)
	st, err := stowage.Open(t.Context(), storeURL, stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Objects().Put(t.Context(), manifest.DataKey("01KBZ0RPHAN000000000000001"), []byte("orphan"), nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	env := map[string]string{"STOWAGE_STORE": storeURL}
	if code, out, _ := stowageCmd(t, env, "fsck", "--strict", "--grace", "1h"); code != exitOK {
		t.Fatalf("a fresh orphan with --grace 1h: exit %d\n%s", code, out)
	}
	code, out, _ := stowageCmd(t, env, "fsck", "--strict", "--grace", "0s", "--json")
	var rep fsckOutput
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != exitProblems || rep.Grace != "0s" || rep.ExitCode != exitProblems {
		t.Fatalf("--grace 0s --strict: exit %d\n%s", code, out)
	}
}

// TestFsckJSONWhenTheStoreDoesNotOpen: fsck --json reports exit_code and
// error when it cannot start; a bad scheme is the configuration class.
func TestFsckJSONWhenTheStoreDoesNotOpen(t *testing.T) {
	code, out, _ := stowageCmd(t, nil, "fsck", "--json", "--store", "gopher://bucket/x")
	var rep fsckOutput
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("no JSON: %v: %q", err, out)
	}
	if code != exitcode.Config || rep.ExitCode != code || !strings.Contains(rep.Error, "gopher") {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
	for _, args := range [][]string{
		{"inspect", "sessions", "--store", "s3://bucket/x?region=us-east-1&colour=blue"},
		{"fsck", "--store", "gopher://bucket/x"},
	} {
		if code, _, stderr := stowageCmd(t, nil, args...); code != exitcode.Config {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitcode.Config, stderr)
		}
	}
}

// TestFsckJSONOnUsageErrors: once --json is parsed, a usage error is a JSON
// report too (exit_code 2 and the error; on main stdout was empty).
func TestFsckJSONOnUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"fsck", "--json"},
		{"fsck", "--json", "--grace", "abc", "--store", "mem://"},
		{"fsck", "--json", "--grace", "-1h", "--store", "mem://"},
		{"fsck", "--json", "--store", "mem://", "extra"},
	} {
		code, out, _ := stowageCmd(t, nil, args...)
		var rep fsckOutput
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Errorf("%q: exit %d, no JSON: %v: %q", args, code, err, out)
			continue
		}
		if code != exitUsage || rep.ExitCode != exitUsage || rep.Error == "" {
			t.Errorf("%q: exit %d, report %+v", args, code, rep)
		}
	}
}

// TestFsckNegativeGrace: a negative --grace is refused (exit 2), as the
// sweeper refuses it; --grace 0s --strict names the grace as given (on
// main it said "-1ns").
func TestFsckNegativeGrace(t *testing.T) {
	storeURL, _ := inspectFixture(t)
	env := map[string]string{"STOWAGE_STORE": storeURL}
	if code, _, stderr := stowageCmd(t, env, "fsck", "--grace", "-1h"); code != exitUsage || !strings.Contains(stderr, "negative") {
		t.Errorf("--grace -1h: exit %d: %s", code, stderr)
	}
	st, err := stowage.Open(t.Context(), storeURL, stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Objects().Put(t.Context(), manifest.DataKey("01KBZ0RPHAN000000000000001"), []byte("orphan"), nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, _ := stowageCmd(t, env, "fsck", "--grace", "0s", "--strict")
	if code != exitProblems || !strings.Contains(out, "grace period (0s)") || strings.Contains(out, "-1ns") {
		t.Errorf("--grace 0s --strict: exit %d\n%s", code, out)
	}
}

// TestInspectHelpNamesTheColumns: inspect's help describes the columns
// inspect sessions prints (on main it promised "nodes", which it never
// printed).
func TestInspectHelpNamesTheColumns(t *testing.T) {
	_, _, help := stowageCmd(t, nil, "inspect", "-h")
	storeURL, _ := inspectFixture(t)
	_, out, _ := stowageCmd(t, nil, "inspect", "sessions", "--store", storeURL)
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	for _, col := range header[1:] {
		if !strings.Contains(help, strings.ToLower(col)) {
			t.Errorf("inspect help does not name the column %s:\n%s", col, help)
		}
	}
	if strings.Contains(help, "nodes)") {
		t.Errorf("inspect help still promises nodes:\n%s", help)
	}
}
