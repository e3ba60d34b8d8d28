package telemetry_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/telemetry"
)

// Wire a Prometheus Registerer and an OpenTelemetry TracerProvider into a
// Store, its attachments and a sweep. The lines between the markers are
// docs/operations.md's snippet (TestOperationsSnippet).
func Example() {
	ctx := context.Background()
	url, sessionID := "mem://", "session-1"
	spans := tracetest.NewInMemoryExporter() // a real program uses its SDK's exporter
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))

	// snippet start
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	tel := telemetry.New(telemetry.Options{Registerer: reg, TracerProvider: tp})
	st, err := stowage.Open(ctx, url, stowage.Config{Telemetry: tel})
	if err != nil {
		return
	}
	defer st.Close()
	sess, _ := st.Session(sessionID)                      // commits and loads
	att, err := attach.New(st.Manifest(), sessionID, nil) // puts and gets
	sweeper := gc.Sweeper{Store: st.Objects(), Observer: tel}
	// snippet end

	if err != nil {
		fmt.Println(err)
		return
	}
	rev := uint64(0)
	if _, err := sess.CommitRuntimeState(ctx, turn(sessionID, rev, "n0", "")); err != nil {
		fmt.Println(err)
		return
	}
	ref, _ := att.Put(ctx, strings.NewReader("hello"), attach.PutOptions{})
	sweeper.Run(ctx)
	fmt.Println("attachment of", ref.Size, "bytes")
	show(reg, "stowage_session_commits_total", "stowage_attachment_bytes_total", "stowage_sweeps_total")
	for _, s := range spans.GetSpans() {
		fmt.Println("span", s.Name)
	}
	// Output:
	// attachment of 5 bytes
	// stowage_attachment_bytes_total{direction="in"} 5
	// stowage_session_commits_total{result="ok"} 1
	// stowage_sweeps_total{result="ok"} 1
	// span stowage.commit
	// span stowage.attachment.put
	// span stowage.sweep
}

// show prints the non-zero counters of the families named.
func show(g prometheus.Gatherer, names ...string) {
	fams, _ := g.Gather()
	for _, f := range fams {
		if !slices.Contains(names, f.GetName()) {
			continue
		}
		for _, m := range f.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				fmt.Printf("%s{%s} %v\n", f.GetName(), strings.Join(labels, ","), v)
			}
		}
	}
}
