package service

import "time"

// SetTimings shortens, for a test, how often a running attempt heartbeats,
// how long a silent one takes to be judged dead (the reaper looks every
// third of it), and how long a run may take to stop once its context has
// ended. Production values derive from the configuration, whose bounds
// (staleAfter ≥ 20 s) would make these tests wait minutes. Call before
// Start.
func (s *Service) SetTimings(heartbeat, staleAfter, stopGrace time.Duration) {
	s.heartbeatEvery, s.staleAfter, s.stopGrace = heartbeat, staleAfter, stopGrace
}

// ReaperPasses counts the reaper's passes so far.
func (s *Service) ReaperPasses() int64 { return s.reaped.Load() }

// StoreKit is storeKit, for TestStoreKit.
var StoreKit = storeKit
