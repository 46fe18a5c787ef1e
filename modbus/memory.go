package modbus

import (
	"sync"
	"time"
)

// Memory remembers, per target, what a controller's Modbus server cannot
// do, so that from its second probe on it is read the way it can be at
// once: one request at a time (it drops requests that arrive while it
// answers one), or some coalesced reads by their parts (it answers an
// exception for an address it does not document). Only such controllers
// have an entry, at most maxEntries of them (the oldest learned goes
// first); an entry is forgotten after ttl, so that a controller whose
// firmware was updated within the same version (registers 100-101 hold
// only "5.33") is tried the fast way again, and at once when the version
// it answers changes.
type Memory struct {
	mu         sync.Mutex
	entries    map[string]learned
	maxEntries int
	ttl        time.Duration
	now        func() time.Time
}

// learned is what one controller's server was found not to do.
type learned struct {
	version    [2]uint16 // registers 100-101 when it was learned
	oneAtATime bool      // drops pipelined requests
	split      uint32    // bit i: read i of the coalesced plan is read by its parts
	at         time.Time
}

// The defaults of NewMemory: an hour, and room for a fleet's misfits.
const (
	DefaultMemoryTTL     = time.Hour
	DefaultMemoryEntries = 4096
)

// NewMemory returns an empty memory of at most maxEntries targets, each
// kept for ttl; now is its clock (nil: time.Now).
func NewMemory(maxEntries int, ttl time.Duration, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{entries: map[string]learned{}, maxEntries: maxEntries, ttl: ttl, now: now}
}

// get returns what is known of target, whose firmware answers version:
// nothing when it is not known, expired, or answered another version.
func (m *Memory) get(target string, version [2]uint16) learned {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[target]
	if !ok {
		return learned{}
	}
	if e.version != version || m.now().Sub(e.at) >= m.ttl {
		delete(m.entries, target)
		return learned{}
	}
	return e
}

// set records what a probe of target found (an entry with nothing in it
// is removed). A new entry in a full memory replaces the oldest one.
func (m *Memory) set(target string, e learned) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !e.oneAtATime && e.split == 0 {
		delete(m.entries, target)
		return
	}
	if old, ok := m.entries[target]; ok {
		e.at = old.at // a probe that only confirms it does not extend its time
		if old.oneAtATime != e.oneAtATime || old.split != e.split {
			e.at = m.now()
		}
		m.entries[target] = e
		return
	}
	if len(m.entries) >= m.maxEntries {
		oldest, at := "", time.Time{}
		for k, v := range m.entries {
			if oldest == "" || v.at.Before(at) {
				oldest, at = k, v.at
			}
		}
		delete(m.entries, oldest)
	}
	e.at = m.now()
	m.entries[target] = e
}

// Len is how many targets the memory holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
