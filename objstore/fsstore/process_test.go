package fsstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// The cross-process tests re-execute this test binary as children running
// TestHelperProcess with these variables set. A child opens the store, says
// "ready", waits for a line on stdin (so that all children start together),
// does its work, prints its results and exits.
const (
	envMode = "FSSTORE_HELPER_MODE"
	envDir  = "FSSTORE_HELPER_DIR"
	envID   = "FSSTORE_HELPER_ID"
)

const (
	createKey     = "race/create"
	counterKey    = "race/counter"
	crashKey      = "crash/upload"
	casGoroutines = 2
	casIncrements = 15 // per goroutine
	crashExitCode = 3
)

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envMode)
	if mode == "" {
		t.Skip("helper process of the cross-process tests")
	}
	if err := runHelper(mode, os.Getenv(envDir), os.Getenv(envID)); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runHelper(mode, dir, id string) error {
	s, err := Open(dir, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	switch mode {
	case "create":
		_, err := s.Put(ctx, createKey, []byte(id), &objstore.PutOptions{IfNoneMatch: true})
		switch {
		case err == nil:
			fmt.Println("won")
		case errors.Is(err, objstore.ErrPreconditionFailed):
			fmt.Println("lost")
		default:
			return err
		}
	case "cas":
		var wg sync.WaitGroup
		errs := make([]error, casGoroutines)
		for g := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[g] = increment(s, casIncrements)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		fmt.Println("done")
	case "crash-upload":
		// The body delivers one buffer, then the process dies in the middle
		// of the upload, as on a crash.
		body := io.MultiReader(bytes.NewReader(make([]byte, copyBufferSize)), crashReader{})
		_, err := s.Upload(ctx, crashKey, body, nil)
		return fmt.Errorf("upload returned: %v", err)
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return nil
}

type crashReader struct{}

func (crashReader) Read([]byte) (int, error) {
	os.Exit(crashExitCode)
	return 0, nil
}

// increment adds 1 to the counter n times by compare-and-swap, retrying lost
// races.
func increment(s *Store, n int) error {
	for done := 0; done < n; {
		rc, info, err := s.Get(ctx, counterKey, nil)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		v, err := strconv.Atoi(string(b))
		if err != nil {
			return err
		}
		_, err = s.Put(ctx, counterKey, []byte(strconv.Itoa(v+1)), &objstore.PutOptions{IfMatch: info.ETag})
		switch {
		case err == nil:
			done++
		case !errors.Is(err, objstore.ErrPreconditionFailed):
			return err
		}
	}
	return nil
}

type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr bytes.Buffer
}

// startHelpers starts n helper processes on dir and waits until all are ready.
func startHelpers(t *testing.T, dir, mode string, n int) []*helper {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	hs := make([]*helper, n)
	for i := range hs {
		h := &helper{cmd: exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")}
		h.cmd.Env = append(os.Environ(), envMode+"="+mode, envDir+"="+dir, envID+"="+strconv.Itoa(i))
		h.cmd.Stderr = &h.stderr
		var err error
		if h.stdin, err = h.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		out, err := h.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		h.stdout = bufio.NewReader(out)
		if err := h.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.cmd.Process.Kill(); h.cmd.Wait() })
		hs[i] = h
	}
	for i, h := range hs {
		if line, err := h.stdout.ReadString('\n'); line != "ready\n" {
			t.Fatalf("helper %d: %q %v; stderr:\n%s", i, line, err, h.stderr.String())
		}
	}
	return hs
}

// run releases all helpers at once and returns each one's output and exit
// code.
func run(t *testing.T, hs []*helper) (outs []string, codes []int) {
	t.Helper()
	for _, h := range hs {
		if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range hs {
		out, _ := io.ReadAll(h.stdout)
		err := h.cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != 0 && code != crashExitCode {
			t.Errorf("helper failed (exit %d); stderr:\n%s", code, h.stderr.String())
		}
		outs = append(outs, strings.TrimSpace(string(out)))
		codes = append(codes, code)
	}
	return outs, codes
}

func TestCreateOnlyAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	const n = 4
	outs, _ := run(t, startHelpers(t, dir, "create", n))
	winner := -1
	for i, out := range outs {
		switch out {
		case "won":
			if winner >= 0 {
				t.Fatalf("helpers %d and %d both created %q", winner, i, createKey)
			}
			winner = i
		case "lost":
		default:
			t.Fatalf("helper %d printed %q", i, out)
		}
	}
	if winner < 0 {
		t.Fatalf("no helper created %q: %q", createKey, outs)
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := mustRead(t, s, createKey); got != strconv.Itoa(winner) {
		t.Fatalf("%q holds %q, the winner was helper %d", createKey, got, winner)
	}
}

func TestCompareAndSwapAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objstoretest.MustPut(t, s, counterKey, []byte("0"), nil)
	const n = 3
	hs := startHelpers(t, dir, "cas", n)
	// This process increments too, concurrently with the helpers.
	done := make(chan error, 1)
	go func() { done <- increment(s, casIncrements) }()
	outs, _ := run(t, hs)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, out := range outs {
		if out != "done" {
			t.Fatalf("helper %d printed %q", i, out)
		}
	}
	want := n*casGoroutines*casIncrements + casIncrements
	if got := mustRead(t, s, counterKey); got != strconv.Itoa(want) {
		t.Fatalf("counter = %s after %d increments across %d processes: updates were lost", got, want, n+1)
	}
}

func TestCrashedUploadIsListedAndAbortable(t *testing.T) {
	dir := t.TempDir()
	_, codes := run(t, startHelpers(t, dir, "crash-upload", 1))
	if codes[0] != crashExitCode {
		t.Fatalf("helper exited %d, want the crash's %d", codes[0], crashExitCode)
	}
	// Age the leftovers past StaleTempAge: Open must still keep them, as the
	// upload is registered, for the sweeper to find.
	old := time.Now().Add(-2 * StaleTempAge)
	for _, f := range files(t, filepath.Join(dir, "uploads")) {
		if err := os.Chtimes(filepath.Join(dir, "uploads", f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Head(ctx, crashKey); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("crashed upload is visible: %v", err)
	}
	if keys := objstoretest.ListKeys(t, s, "", nil); len(keys) != 0 {
		t.Fatalf("list after crash: %q", keys)
	}
	var ups []objstore.UploadInfo
	for u, err := range s.ListUploads(ctx, "crash/") {
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, u)
	}
	if len(ups) != 1 || ups[0].Key != crashKey {
		t.Fatalf("uploads after crash: %+v", ups)
	}
	if got := files(t, s.uploadsDir); len(got) != 2 {
		t.Fatalf("uploads/ after crash: %q", got)
	}
	if err := s.AbortUpload(ctx, crashKey, ups[0].UploadID); err != nil {
		t.Fatal(err)
	}
	if got := files(t, s.uploadsDir); len(got) != 0 {
		t.Fatalf("uploads/ after abort: %q", got)
	}
}
