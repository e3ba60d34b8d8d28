package lashconf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/fscktest"
	"github.com/stowage-dev/stowage/internal/testclock"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// Harness adapts one backend to the suite.
type Harness struct {
	// Open returns a fresh, empty object store (or an empty prefix of one)
	// for one test and registers its cleanup; now is the suite's clock.
	// Required.
	Open func(t testing.TB, now func() time.Time) objstore.Store
}

// Run runs every lash case (the table in the package doc) as a subtest.
func Run(t *testing.T, h Harness) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newEnv(t, h)) })
	}
}

type lashCase struct {
	name string
	fn   func(t *testing.T, e *env)
}

// cases are the Go tests, in the order of the package doc's table.
var cases = []lashCase{
	// runtime_persistence.rs: the session commit store.
	{"ReportsDeclaredDurability", testDurability},
	{"CommitIncrementsHeadAndRoundTripsAgentFrames", testCommitIncrements},
	{"ConcurrentHeadRevisionCASAppliesExactlyOnce", testConcurrentCAS},
	{"CommitRejectsADifferentSessionID", testRejectsOtherSession},
	{"LoadHydratesCheckpointAndUsage", testLoadHydrates},
	{"ActivePathReadScopeSelectsOnlyRequestedAncestry", testActivePath},
	{"SessionMetadataRoundTrips", testMetaRoundTrips},
	{"AttachmentManifestRecordsIntentAndCommitStamps", testManifestIntentStamps},
	{"AttachmentManifestKeepsSameContentOwnershipPerSession", testManifestOwnershipPerSession},
	{"AttachmentManifestReferenceTrackingAndGCRootSet", testManifestRefTracking},
	{"NoopAttachmentManifestIsExplicitAndEmpty", testNoopManifest},
	{"FinalCommitStampIsIdempotentAndConflictsOnChangedHash", testStampIdempotent},
	{"CommitWithUnbackedAttachmentGoesThrough", testUnbackedAttachment},
	{"TombstoneVacuumAndGCAreMinimallyConsistent", testTombstoneNodes},
	// runtime_persistence.rs: the execution lease.
	{"SessionExecutionLeaseContract", testLeaseContract},
	{"SessionExecutionLeaseReclaimContract", testLeaseReclaim},
	{"FirstLeaseClaimExcludesConcurrentReopenHandles", testFirstClaimExcludesReopen},
	{"ClockExpiry", testClockExpiry},
	// runtime_persistence.rs: queued work.
	{"QueuedWorkSourceKeysAreIdempotentAndListOrdered", testQueueSourceKeys},
	{"ConcurrentQueueAndTurnInputClaimsHaveOneOwner", testConcurrentClaimsOneOwner},
	{"CheckpointWorkClaimsBothFamiliesOnce", testCheckpointBothFamilies},
	{"CheckpointClaimProbeRequestCounts", testCheckpointProbeCounts},
	{"CheckpointClaimsHonorMinBoundaryAtEveryCheckpoint", testCheckpointMinBoundary},
	{"QueuedWorkCancelRemovesOnlyUnclaimedBatches", testQueueCancel},
	{"QueuedWorkExactClaimUsesSelectedBatchIDs", testExactClaim},
	{"QueuedWorkExactClaimPreservesPhysicalOrderAndKeyBreaks", testExactKeyBreak},
	{"QueuedWorkNamesADeferredLaneApartFromAnExhaustedOne", testDeferredVsExhausted},
	{"QueuedWorkClassesGateCommandAndTurnClaims", testQueueClasses},
	{"QueuedWorkClaimsRespectBoundariesAbandonAndStaleCompletion", testQueueBoundaries},
	{"QueuedWorkClaimsSupersedeAcrossSessionLeaseGenerations", testQueueSupersede},
	{"ClaimLivenessTracksSessionGenerations", testClaimLiveness},
	{"SameGenerationClaimScansReachRowsBeyondTheScanSurplus", testScanSurplus},
	{"QueuedWorkRespectsMembershipLimitsExclusivityReclaimAndSessions", testQueueMembership},
	{"QueuedWorkJoinGroupsByDeliveryPolicyAndMergeKey", testQueueJoin},
	{"QueuedWorkCompletionIsLeaseGuarded", testQueueCompletionLeaseGuarded},
	{"QueuedWakeDeliveryIsSourceKeyIdempotentAndClaimedOnce", testWakeClaimedOnce},
	{"QueueCompletionAndTurnCommitStampAreAtomic", testQueueStampAtomic},
	// runtime_persistence.rs: turn inputs.
	{"PendingTurnInputsSourceKeysOrderCancelAndCrossSession", testInputSourceKeys},
	{"PendingTurnInputBulkAndSuffixCancellation", testInputBulkSuffix},
	{"PendingTurnInputClaimsReclaimCompleteAndFence", testInputClaims},
	{"TurnInputApplicationIdentitySurvivesTombstones", testApplications},
	{"TurnInputClaimsSupersedeAcrossSessionLeaseGenerations", testInputSupersede},
	{"PendingTurnInputCancelCoversActiveAndDeferredStates", testInputCancelStates},
	{"PendingActiveTurnInputsDeferOnceOnInterrupt", testInputDefer},
	{"CompletedInputSourceKeyReplayIsATombstone", testCompletedReplay},
	// runtime_persistence.rs: reopen and reclamation.
	{"RuntimePersistenceSurvivesReopen", testSurvivesReopen},
	{"GCReclaimsUnreachableCheckpointBlobsAndPreservesLive", testGCCheckpointBlobs},
	// session_store_factory.rs.
	{"FactoryReportsDeclaredTier", testFactoryTier},
	{"FactoryOpenMissingReturnsNone", testFactoryOpenMissing},
	{"FactoryCreateSeedsAndReopensMeta", testFactoryCreateSeeds},
	{"FactoryCreateIsIdempotent", testFactoryCreateIdempotent},
	{"FactoryDeleteRemovesStoreAndIsIdempotent", testFactoryDelete},
	{"AttachmentOwnershipIsolation", testAttachmentIsolation},
	// attachment_store.rs.
	{"AttachmentPutGetRoundTripsBytesAndMeta", testAttachmentRoundTrip},
	{"AttachmentIsContentAddressed", testAttachmentContentAddressed},
	{"AttachmentGetUnknownIsNotFound", testAttachmentUnknown},
	{"AttachmentDeleteRemovesContentAndIsIdempotent", testAttachmentDelete},
	{"AttachmentListEnumeratesStoredBlobs", testAttachmentList},
	{"AttachmentReportsDeclaredPersistence", testAttachmentPersistence},
	{"AttachmentIDsAreSHA256Only", testAttachmentIDsSHA256},
	{"LateWriterIsRedirectedByTheDeletionFence", testLateWriterRedirected},
	// lash-sqlite-store and lash-postgres-store tests.
	{"HeadRevisionCASHoldsAcrossTwoConnections", testCASAcrossHandles},
	{"SecondClaimOnHeldBatchIsNotWon", testSecondClaimNotWon},
	{"ConcurrentClaimsNeverDoubleOwnABatch", testConcurrentClaimsNeverDouble},
	{"UnsupportedSchemaErrorReportsRealVersions", testUnsupportedSchema},
	{"UnwiredFactoryKeepsProcessOwnedIntentsImmortal", testProcessIntentsImmortal},
	{"RegistryFailureFailsGCNotSessionOpen", testRegistryFailsGC},
	{"FactoryUsesSafeSessionPaths", testSafeSessionPaths},
	{"LeaseFencingHoldsAcrossIndependentHandles", testLeaseAcrossHandles},
	// store_recovery.rs.
	{"ExpiredClaimIsRecoverableOnce", testExpiredClaimRecoverableOnce},
	{"CheckpointSurvivesBeforeClaimSettlement", testCheckpointSurvivesBeforeClaimSettlement},
	{"AtomicCommitSettlesClaimOnce", testAtomicCommitSettlesClaimOnce},
	{"RecordedCommitReplayIsIdempotent", testRecordedCommitReplayIsIdempotent},
	// runtime_persistence.rs: graph commits and usage.
	{"CommitRejectsUnresolvableLeaf", testCommitRejectsUnresolvableLeaf},
	{"CommitRejectsMissingLeaf", testCommitRejectsMissingLeaf},
	{"EmptyAppendCannotMoveTheHead", testEmptyAppendCannotMoveTheHead},
	{"LoadRetainsReasoningOnlyUsage", testLoadRetainsReasoningOnlyUsage},
	{"UsageOverflowSaturates", testUsageOverflowSaturates},
	{"AppendRejectsDuplicateBatchNodeIDs", testAppendRejectsDuplicateBatchNodeIDs},
	{"PendingTurnInputMintIsUniqueAcrossHandles", testInputMintUniqueAcrossHandles},
	{"CheckpointRefusalPreservesActiveTurnInput", testCheckpointRefusalPreservesActiveInput},
	{"ExecutionStateReplaceThenClearRemovesTheLiveRef", testExecutionStateReplaceThenClear},
	{"SessionReadLoadsPersistedHistory", testSessionReadLoadsPersistedHistory},
	{"AppendOfAnExistingNodeReplacesIt", testAppendOfAnExistingNodeReplacesIt},
}

// env is one case's world: a fresh bucket, a stowage.Store on it and the
// suite's clock.
type env struct {
	t     *testing.T
	h     Harness
	ctx   context.Context
	clock *testclock.Clock
	objs  objstore.Store
	st    *stowage.Store
	// fsck checks the bucket's invariants when the case ends.
	fsck *fscktest.Checker
}

func newEnv(t *testing.T, h Harness) *env {
	e := &env{t: t, h: h, ctx: t.Context(), clock: testclock.New()}
	e.objs = h.Open(t, e.clock.Now)
	e.fsck = fscktest.AtCleanup(t, e.objs, e.clock.Now) // every case ends with a deep fsck
	e.st = e.open(storeConfig())
	return e
}

// storeConfig is the configuration of the suite's stowage.Stores.
func storeConfig() stowage.Config { return stowage.Config{} }

// open returns another stowage.Store on the same bucket, as another
// process would open it (its own caches), on the suite's clock.
func (e *env) open(cfg stowage.Config) *stowage.Store {
	e.t.Helper()
	cfg.Now = e.clock.Now
	st, err := stowage.OpenStore(e.ctx, e.objs, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// sess returns a fresh handle on session sid.
func (e *env) sess(sid string) *session.Store {
	e.t.Helper()
	s, err := e.st.Session(sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// attach returns session sid's attachment store.
func (e *env) attach(sid string) *attach.Store {
	e.t.Helper()
	a, err := attach.New(e.st.Manifest(), sid, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// put stores body as an attachment of sid owned by owner.
func (e *env) put(sid string, body string, owner manifest.Owner) attach.Ref {
	e.t.Helper()
	ref, err := e.attach(sid).Put(e.ctx, bytes.NewReader([]byte(body)), attach.PutOptions{MediaType: "text/plain", Owner: owner})
	if err != nil {
		e.t.Fatal(err)
	}
	return ref
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func rev(n uint64) *uint64 { return &n }

func node(id, parent string) session.NodeRecord {
	return session.NodeRecord{NodeID: id, ParentNodeID: parent, Timestamp: "2026-01-02T03:04:05Z",
		Kind: session.PayloadEvent, Event: json.RawMessage(fmt.Sprintf(`{"text":%q}`, id))}
}

// appendCommit is a commit at expected revision r appending a chain of
// nodes under parent, the last one the leaf.
func appendCommit(sid string, r uint64, parent string, ids ...string) session.RuntimeCommit {
	var nodes []session.NodeRecord
	for _, id := range ids {
		nodes = append(nodes, node(id, parent))
		parent = id
	}
	return session.RuntimeCommit{SessionID: sid, ExpectedHeadRevision: rev(r),
		Config:      session.SessionConfig{ProviderID: "prov", Model: "model"},
		AgentFrames: json.RawMessage(`[{"id":"root-frame"}]`), CurrentAgentFrameID: "root-frame",
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Nodes: nodes, Leaf: parent}}
}

// emptyCommit is a commit at expected revision r that changes no node.
func emptyCommit(sid string, r uint64) session.RuntimeCommit {
	return session.RuntimeCommit{SessionID: sid, ExpectedHeadRevision: rev(r)}
}

func stamp(sid, turn, hash string) *session.TurnCommitStamp {
	return &session.TurnCommitStamp{SessionID: sid, TurnID: turn, TurnCommitHash: hash}
}

func (e *env) commit(s *session.Store, c session.RuntimeCommit) *session.CommitResult {
	e.t.Helper()
	res, err := s.CommitRuntimeState(e.ctx, c)
	if err != nil {
		e.t.Fatalf("commit: %v", err)
	}
	// The handle's next commit names what this one left to the background
	// (a merge, a flushed tail), whatever the scheduling.
	s.WaitCompaction()
	return res
}

func owner(id string) session.LeaseOwner {
	return session.LeaseOwner{OwnerID: id, IncarnationID: id + ":incarnation",
		Liveness: session.OwnerLiveness{Kind: session.LivenessOpaque}}
}

// lease claims the session lease for owner id and fails unless acquired.
func (e *env) lease(s *session.Store, id string, ttl time.Duration) session.SessionExecutionLease {
	e.t.Helper()
	out, err := s.TryClaimSessionExecutionLease(e.ctx, owner(id), ttl)
	if err != nil || out.Acquired == nil {
		e.t.Fatalf("lease for %s: %+v, %v", id, out, err)
	}
	return *out.Acquired
}

func (e *env) enqueue(s *session.Store, sid, text, key string) session.QueuedWorkBatch {
	e.t.Helper()
	b, err := s.EnqueueQueuedWork(e.ctx, session.QueuedWorkBatchDraft{SessionID: sid, SourceKey: key, Payload: text2json(text)})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// enqueueDraft enqueues d on s (d names no session: the handle's).
func (e *env) enqueueDraft(s *session.Store, d session.QueuedWorkBatchDraft) session.QueuedWorkBatch {
	e.t.Helper()
	b, err := s.EnqueueQueuedWork(e.ctx, d)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) input(s *session.Store, sid, text, key, activeTurn string) session.PendingTurnInput {
	e.t.Helper()
	in, err := s.EnqueuePendingTurnInput(e.ctx, session.PendingTurnInputDraft{SessionID: sid, SourceKey: key,
		ActiveTurnID: activeTurn, Payload: text2json(text)})
	if err != nil {
		e.t.Fatal(err)
	}
	return in
}

func text2json(s string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"text": s})
	return b
}

func jsonText(raw json.RawMessage) string {
	var v struct{ Text string }
	_ = json.Unmarshal(raw, &v)
	return v.Text
}

func batchIDs(bs []session.QueuedWorkBatch) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, b.BatchID)
	}
	return out
}

func inputIDs(ins []session.PendingTurnInput) []string {
	out := []string{}
	for _, in := range ins {
		out = append(out, in.InputID)
	}
	return out
}

func (e *env) pendingInputs(s *session.Store) []string {
	e.t.Helper()
	ins, err := s.ListPendingTurnInputs(e.ctx)
	e.must(err)
	return inputIDs(ins)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// asErr is errors.As.
func asErr(err error, target any) bool { return errors.As(err, target) }

// isErr is errors.Is, for brevity in conditions.
func isErr(err, target error) bool { return errors.Is(err, target) }

// sha is the attachment id of body.
func sha(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}
